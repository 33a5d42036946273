// Allure 3 (npm package "allure", no Java): one self-contained HTML file from reports/allure-results.
//   npm ci && npx allure generate reports/allure-results      -> reports/allure-report/index.html
// Each generate appends the run to historyPath and reads the earlier runs from it (each test's History tab,
// "new" / "flaky" marks): keep that file between runs (CI: .github/workflows/gameday.yml caches it).
import { defineConfig } from "allure";

export default defineConfig({
  name: "Runbook harness: verification",
  output: "reports/allure-report",
  historyPath: "reports/allure-history.jsonl",
  plugins: {
    awesome: {
      options: {
        singleFile: true,
        reportLanguage: "en",
        groupBy: ["epic", "feature", "story"],
      },
    },
  },
  // Same rules as the categories.json the plugin writes for Allure 2 (harness/pytest_plugin/reporting.py CATEGORIES):
  // a WARN row passes with the label verdict=warn; a FAIL verdict fails the test (Allure "failed");
  // anything else raised breaks it ("broken"); a run that did not run every planned row leaves its
  // "Verification report" result "unknown" with the label verdict=incomplete.
  categories: {
    rules: [
      { name: "Not measurable / warnings", matchers: { statuses: ["passed"], labels: { verdict: "warn" } } },
      { name: "Infrastructure findings", matchers: { statuses: ["failed"] } },
      { name: "Harness errors", matchers: { statuses: ["broken"] } },
      { name: "Incomplete runs", matchers: { statuses: ["unknown"], labels: { verdict: "incomplete" } } },
    ],
  },
});
