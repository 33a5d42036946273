// Allure 3 (npm package "allure", no Java): one self-contained HTML file from reports/allure-results.
//   npm ci && npx allure generate reports/allure-results      -> reports/allure-report/index.html
import { defineConfig } from "allure";

export default defineConfig({
  name: "Runbook harness: verification",
  output: "reports/allure-report",
  plugins: {
    awesome: {
      options: {
        singleFile: true,
        reportLanguage: "en",
        groupBy: ["epic", "feature", "story"],
      },
    },
  },
  // A FAIL verdict fails the test (Allure "failed"); anything else raised breaks it ("broken").
  categories: {
    rules: [
      { name: "Infrastructure findings", matchers: { statuses: ["failed"] } },
      { name: "Harness errors", matchers: { statuses: ["broken"] } },
    ],
  },
});
