"""The moto internals the fidelity extensions patch or call, pinned: a moto upgrade that changes one
fails here, naming the symbol, instead of turning a drill into a false pass at run time.

Each pin is ``module:Qualified.name``, the extension that relies on it, and the parameters it is
called or wrapped with, in order. ``exact`` pins are patched by a wrapper of the same shape (the whole
parameter list must match); the others must start with the listed parameters (the names the
extension passes by keyword must exist). Patched attributes are read from the registry's originals,
so the pins hold whether or not a target has installed the extensions in this process.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import moto
import pytest
from packaging.specifiers import SpecifierSet
from werkzeug.serving import WSGIRequestHandler

from harness.targets.embedded import fidelity
from harness.targets.embedded.fidelity import registry

REPO = Path(__file__).resolve().parents[2]
FIDELITY_DIR = REPO / "harness" / "targets" / "embedded" / "fidelity"
SERVER = REPO / "harness" / "targets" / "embedded" / "server.py"


@dataclass(frozen=True)
class Pin:
    """One moto internal: where it is, who relies on it, and the parameters they use."""

    symbol: str
    extension: str
    params: tuple[str, ...] | None = None  # None: it must exist (a class, an exception, a backend dict)
    exact: bool = False
    keywords: tuple[str, ...] = ()  # passed by keyword: must exist anywhere in the signature


LAMBDA, PITR, CW, ECS, LOGS, SERVER_EXT = (
    "lambda_invoke",
    "dynamodb_pitr",
    "cloudwatch_percentiles",
    "ecs_tasks",
    "lambda_telemetry",
    "server.py",
)
CONTROL, CLOCK, CODE = "lambda_control", "one_clock", "lambda_code_location"
CFN = (
    "cloudformation_states"  # (amplify* imports nothing of moto's: it answers in front of it, server.py's middlewares)
)
INSIGHTS, SEED = (
    "logs_insights",
    "seed.py",
)  # (api_quotas imports nothing of moto's either: a middleware in front of it)

PINS = (
    # lambda_invoke: Invoke paths (patched) and the resolution of fn[:qualifier]
    Pin(
        "moto.awslambda.models:LambdaBackend.invoke",
        LAMBDA,
        ("self", "function_name", "qualifier", "body", "headers", "response_headers"),
        exact=True,
    ),
    Pin("moto.awslambda.responses:LambdaResponse.invoke", LAMBDA, ("self",), exact=True),
    Pin(
        "moto.awslambda.models:LambdaFunction.invoke",
        LAMBDA,
        ("self", "body", "request_headers", "response_headers"),
        exact=True,
    ),
    Pin("moto.awslambda.models:LambdaBackend.get_function", LAMBDA, ("self", "function_name_or_arn", "qualifier")),
    Pin("moto.awslambda.models:LambdaStorage._get_function_aliases", LAMBDA, ("self", "function_name")),
    Pin("moto.awslambda.models:lambda_backends", LAMBDA),
    # lambda_control: alias and function control-plane responses (patched), the storage it reads
    *(
        Pin(f"moto.awslambda.responses:LambdaResponse.{name}", CONTROL, ("self",), exact=True)
        for name in (
            "create_function",
            "create_alias",
            "update_alias",
            "get_alias",
            "delete_alias",
            "update_function_configuration",
            "update_function_code",
            "publish_version",
            "get_function",
            "get_function_configuration",
            "list_aliases",
            "list_versions_by_function",
            "list_functions",
        )
    ),
    Pin("moto.awslambda.models:LambdaFunction.get_configuration", CONTROL, ("self",)),
    Pin("moto.awslambda.models:LambdaStorage._get_version", CONTROL, ("self", "name", "version"), exact=True),
    Pin("moto.awslambda.models:LambdaBackend.get_alias", CONTROL, ("self", "name", "function_name"), exact=True),
    Pin("moto.awslambda.exceptions:LambdaClientError.__init__", CONTROL, ("self", "error", "message"), exact=True),
    # lambda_code_location: GetFunction's Code (patched), the package fields it signs
    Pin("moto.awslambda.models:LambdaFunction.get_code", CODE, ("self",), exact=True),
    # one_clock: moto's utcnow (patched in moto.core.utils and every module that bound it), S3 bucket creation,
    # the stack resource view DescribeStackResources renders
    Pin("moto.core.utils:utcnow", CLOCK, ()),
    Pin("moto.core.utils:iso_8601_datetime_with_milliseconds", CLOCK, ("value",)),
    Pin("moto.s3.models:FakeBucket.__init__", CLOCK, ("self", "name", "account_id", "region_name")),
    Pin("moto.cloudformation.responses:StackResourceDTO.__init__", CLOCK, ("self", "stack", "resource"), exact=True),
    # dynamodb_pitr: write paths and PITR operations (patched), the restored table built by hand
    Pin("moto.dynamodb.models.table:Table.put_item", PITR, ("self", "item_attrs")),
    Pin("moto.dynamodb.models.table:Table.delete_item", PITR, ("self", "hash_key", "range_key"), exact=True),
    Pin("moto.dynamodb.models.table:Table.get_item", PITR, ("self", "hash_key", "range_key")),
    Pin("moto.dynamodb.models.table:Table.all_items", PITR, ("self",)),
    Pin(
        "moto.dynamodb.models.table:Table.__init__",
        PITR,
        ("self", "table_name"),
        keywords=("account_id", "region", "schema", "attr", "throughput"),
    ),
    Pin(
        "moto.dynamodb.models.table:RestoredPITTable.__init__", PITR, ("self", "name", "account_id", "region", "source")
    ),
    Pin("moto.dynamodb.models.table:GlobalSecondaryIndex.create", PITR, ("dct", "table_key_attrs")),
    Pin("moto.dynamodb.models.table:LocalSecondaryIndex.create", PITR, ("dct", "table_key_attrs")),
    Pin("moto.dynamodb.models:DynamoDBBackend.update_item", PITR, ("self", "table_name", "key")),
    Pin(
        "moto.dynamodb.models:DynamoDBBackend.update_continuous_backups",
        PITR,
        ("self", "table_name", "point_in_time_spec"),
        exact=True,
    ),
    Pin("moto.dynamodb.models:DynamoDBBackend.describe_continuous_backups", PITR, ("self", "table_name"), exact=True),
    Pin("moto.dynamodb.models:DynamoDBBackend.get_table", PITR, ("self", "table_name")),
    Pin("moto.dynamodb.responses:DynamoHandler.restore_table_to_point_in_time", PITR, ("self",), exact=True),
    Pin("moto.dynamodb.models.table:RestoredPITTable.describe", PITR, ("self", "base_key"), exact=True),
    Pin("moto.dynamodb.models.table:Backup.description", PITR),
    *(
        Pin(f"moto.dynamodb.responses:DynamoHandler.{name}", PITR, ("self",), exact=True)
        for name in ("get_item", "put_item", "update_item", "delete_item", "query", "scan", "batch_get_item")
        + ("batch_write_item",)
    ),
    Pin("moto.dynamodb.responses:DynamoResult.__init__", PITR, ("self", "result")),
    Pin("moto.dynamodb.models.dynamo_type:DynamoType.__init__", PITR, ("self", "type_as_dict")),
    Pin("moto.dynamodb.models.dynamo_type:Item", PITR),
    Pin("moto.core.exceptions:JsonRESTError.__init__", PITR, ("self", "error_type", "message")),
    Pin("moto.dynamodb.exceptions:MockValidationException.__init__", PITR, ("self", "message")),
    Pin("moto.dynamodb.exceptions:PointInTimeRecoveryUnavailable.__init__", PITR, ("self", "name")),
    Pin("moto.dynamodb.exceptions:ResourceNotFoundException", PITR),
    Pin("moto.dynamodb.exceptions:TableAlreadyExistsException.__init__", PITR, ("self", "target_table_name")),
    Pin("moto.dynamodb.exceptions:TableNotFoundException.__init__", PITR, ("self", "name")),
    # cloudwatch_percentiles: statistics paths (patched), stored data, metric math
    Pin("moto.cloudwatch.responses:CloudWatchResponse.get_metric_statistics", CW, ("self",), exact=True),
    Pin("moto.cloudwatch.responses:CloudWatchResponse._get_param", CW, ("self", "param_name")),
    Pin(
        "moto.cloudwatch.models:CloudWatchBackend.get_metric_data",
        CW,
        ("self", "queries", "start_time", "end_time", "scan_by"),
        exact=True,
    ),
    Pin(
        "moto.cloudwatch.models:CloudWatchBackend.aws_metric_data", CW
    ),  # a property: datapoints computed per request (S3 sizes)
    Pin("moto.cloudwatch.models:MetricDatum", CW),
    Pin("moto.cloudwatch.models:MetricAggregatedDatum", CW),
    Pin("moto.cloudwatch.models:MetricDatumBase", CW),
    Pin("moto.core.responses:ActionResult.__init__", CW, ("self", "result")),
    Pin("moto.cloudwatch.exceptions:InvalidParameterCombination", CW),
    Pin("moto.cloudwatch.exceptions:InvalidParameterValue", CW),
    Pin("moto.cloudwatch.exceptions:ValidationError", CW),
    # ecs_tasks / ecs_model / ecs_faults: service and task paths (patched), the task model
    Pin(
        "moto.ecs.models:EC2ContainerServiceBackend.create_service",
        ECS,
        ("self", "cluster_str", "service_name", "desired_count", "task_definition_str"),
    ),
    Pin("moto.ecs.models:EC2ContainerServiceBackend.update_service", ECS, ("self", "service_properties"), exact=True),
    Pin(
        "moto.ecs.models:EC2ContainerServiceBackend.stop_task",
        ECS,
        ("self", "cluster_str", "task_str", "reason"),
        exact=True,
    ),
    Pin(
        "moto.ecs.models:EC2ContainerServiceBackend.list_tasks",
        ECS,
        ("self", "cluster_str", "container_instance", "family", "started_by", "service_name", "desiredStatus"),
        exact=True,
    ),
    Pin("moto.ecs.models:EC2ContainerServiceBackend._get_service", ECS, ("self", "cluster_str", "service_str")),
    Pin("moto.ecs.models:EC2ContainerServiceBackend._get_cluster", ECS, ("self", "name")),
    Pin(
        "moto.ecs.models:EC2ContainerServiceBackend.update_cluster_resources",
        ECS,
        ("self", "cluster", "task_num", "task_state"),
    ),
    Pin("moto.ecs.models:EC2ContainerServiceBackend.describe_task_definition", ECS, ("self", "task_definition_str")),
    Pin("moto.ecs.models:EC2ContainerServiceBackend._calculate_task_resource_requirements", ECS, ("task_definition",)),
    Pin(
        "moto.ecs.models:Task.__init__",
        ECS,
        ("self",),
        keywords=(
            "cluster",
            "task_definition",
            "container_instance_arn",
            "resource_requirements",
            "backend",
            "group",
            "launch_type",
            "started_by",
            "networking_configuration",
            "platform_version",
        ),
    ),
    Pin("moto.ecs.models:Task.status", ECS),  # ServiceTask overrides the ManagedState property (reads _status)
    Pin("moto.ecs.models:Task.last_status", ECS),
    Pin("moto.ecs.models:Service", ECS),
    Pin("moto.ecs.models:ecs_backends", ECS),
    Pin("moto.ecs.exceptions:ClusterNotFoundException", ECS),
    Pin("moto.ecs.exceptions:ServiceNotFoundException", ECS),
    Pin("moto.moto_api._internal:mock_random", ECS),
    # lambda_telemetry: logs and metrics written for each invocation
    Pin("moto.logs.models:LogsBackend.ensure_log_group", LOGS, ("self", "log_group_name")),
    Pin("moto.logs.models:LogGroup.create_log_stream", LOGS, ("self", "log_stream_name")),
    Pin("moto.logs.models:LogGroup.put_log_events", LOGS, ("self", "log_stream_name", "log_events")),
    Pin("moto.logs.models:logs_backends", LOGS),
    Pin("moto.cloudwatch.models:CloudWatchBackend.put_metric_data", LOGS, ("self", "namespace", "metric_data")),
    Pin("moto.cloudwatch.models:cloudwatch_backends", LOGS),
    # cloudformation_states: create/update paths and stack events (patched), RollbackStack added, failures built on the
    # models
    Pin("moto.cloudformation.responses:CloudFormationResponse.update_stack", CFN, ("self",), exact=True),
    Pin("moto.cloudformation.responses:CloudFormationResponse.create_stack", CFN, ("self",), exact=True),
    Pin("moto.cloudformation.responses:CloudFormationResponse._validate_status", CFN, ("self", "stack")),
    # cloudformation_timing: every request settles the account's stacks, then moto's own dispatch runs
    Pin("moto.core.responses:BaseResponse.call_action", CFN, ("self",), exact=True),
    Pin("moto.cloudformation.models:CloudFormationBackend.delete_stack", CFN, ("self", "name_or_stack_id")),
    Pin(
        "moto.cloudformation.models:Stack._add_stack_event",
        CFN,
        ("self", "resource_status", "resource_status_reason", "resource_properties"),
        exact=True,
    ),
    Pin("moto.cloudformation.models:Stack.parse_template", CFN, ("template",)),
    Pin(
        "moto.cloudformation.models:Event.__init__",
        CFN,
        (
            "self",
            "stack_id",
            "stack_name",
            "logical_resource_id",
            "physical_resource_id",
            "resource_type",
            "resource_status",
            "resource_status_reason",
            "resource_properties",
        ),
        exact=True,
    ),
    Pin("moto.cloudformation.models:CloudFormationBackend.get_stack", CFN, ("self", "name_or_stack_id")),
    Pin("moto.cloudformation.models:CloudFormationBackend.delete_stack", CFN, ("self", "name_or_stack_id")),
    Pin("moto.cloudformation.models:cloudformation_backends", CFN),
    Pin("moto.cloudformation.parsing:ResourceMap.delete", CFN, ("self",)),
    Pin("moto.cloudformation.exceptions:ValidationError.__init__", CFN, ("self", "name_or_id", "message")),
    Pin(
        "moto.core.responses:BaseResponse.call_action", CFN, ("self",)
    ),  # dispatches to a method named after the action
    Pin("moto.core.utils:method_names_from_class", CFN, ("clazz",)),
    Pin(
        "moto.cloudformation.responses:CloudFormationResponse._get_param_values",
        CFN,
        ("self", "parameters_list", "existing_params"),
        exact=True,
    ),
    # logs_insights: StartQuery (patched) over moto's log model, its query record and errors
    Pin(
        "moto.logs.models:LogsBackend.start_query",
        INSIGHTS,
        ("self", "log_group_names", "start_time", "end_time", "query_string"),
        exact=True,
    ),
    Pin("moto.logs.exceptions:InvalidParameterException.__init__", INSIGHTS, ("self", "msg")),
    Pin("moto.logs.exceptions:LogsClientError", INSIGHTS),
    Pin("moto.logs.models:LogsBackend.get_query_results", INSIGHTS, ("self", "query_id"), exact=True),
    Pin("moto.logs.exceptions:ResourceNotFoundException.__init__", INSIGHTS, ("self", "msg"), exact=True),
    Pin("moto.logs.responses:LogsResponse.logs_backend", INSIGHTS),
    Pin("moto.logs.responses:LogsResponse._get_param", INSIGHTS, ("self", "param_name")),
    # seed.py: the healthy metric baseline written into moto's CloudWatch model in-process
    Pin(
        "moto.cloudwatch.models:MetricDatum.__init__",
        SEED,
        ("self", "namespace", "name", "value", "dimensions", "timestamp", "unit"),
        exact=True,
    ),
    Pin(
        "moto.cloudwatch.models:MetricAggregatedDatum.__init__",
        SEED,
        (
            "self",
            "namespace",
            "name",
            "min_stat",
            "max_stat",
            "sample_count",
            "sum_stat",
            "dimensions",
            "timestamp",
            "unit",
        ),
        exact=True,
    ),
    Pin("moto.cloudwatch.models:Dimension.__init__", SEED, ("self", "name", "value"), exact=True),
    Pin("moto.core.common_models:BaseModel.__new__", SEED, ("cls",)),
    # server.py (and the HTTP API front's threaded server)
    Pin("moto.moto_server.werkzeug_app:MotoRequestHandler", SERVER_EXT),
    Pin("moto.moto_server.werkzeug_app:DomainDispatcherApplication.__init__", SERVER_EXT, ("self", "create_app")),
    Pin("moto.moto_server.werkzeug_app:create_backend_app", SERVER_EXT, ("service",)),
)


def _resolve(symbol: str) -> Any:
    """The object a pin names; for a patched attribute, moto's original (not the extension's wrapper)."""
    module_name, _, qualname = symbol.partition(":")
    obj: Any = importlib.import_module(module_name)
    owner: Any = None
    for part in qualname.split("."):
        owner, obj = obj, getattr(obj, part)
    if isinstance(owner, type):
        obj = registry.original(owner, qualname.rsplit(".", 1)[-1]) or inspect.getattr_static(
            owner, qualname.rsplit(".", 1)[-1]
        )
    return obj.__func__ if isinstance(obj, (staticmethod, classmethod)) else obj


def _where(pin: Pin) -> str:
    module = (
        f"harness/targets/embedded/{pin.extension}"
        if pin.extension in (SERVER_EXT, SEED)
        else f"harness/targets/embedded/fidelity/{pin.extension}.py"
    )
    return f"re-check {module} before widening the moto pin {fidelity.MOTO_REQUIREMENT}"


@pytest.mark.parametrize("pin", PINS, ids=[p.symbol.split(":")[1] for p in PINS])
def test_moto_internal_is_unchanged(pin: Pin) -> None:
    try:
        obj = _resolve(pin.symbol)
    except (ImportError, AttributeError) as exc:
        pytest.fail(f"moto {moto.__version__}: {pin.symbol} (used by {pin.extension}) is gone: {exc}; {_where(pin)}")
    if pin.params is None:
        return
    params = tuple(inspect.signature(obj).parameters)
    found = params if pin.exact else params[: len(pin.params)]
    assert found == pin.params, (
        f"moto {moto.__version__}: {pin.symbol} (used by {pin.extension}) changed: expected parameters "
        f"{'' if pin.exact else 'starting with '}{pin.params}, found {params}; {_where(pin)}"
    )
    missing = [k for k in pin.keywords if k not in params]
    assert not missing, (
        f"moto {moto.__version__}: {pin.symbol} (used by {pin.extension}) lost parameters {missing}; {_where(pin)}"
    )


def test_datapoint_attributes_are_what_the_seed_and_index_set() -> None:
    """seed.py builds datapoints without their constructors and the percentile index reads their
    attributes: the constructors must still set exactly these, and the backend keep them in a list."""
    from datetime import datetime

    from moto.cloudwatch.models import CloudWatchBackend, MetricAggregatedDatum, MetricDatum

    dims = [{"Name": "FunctionName", "Value": "f"}]
    single = MetricDatum("AWS/Lambda", "Errors", 0.0, dims, datetime(2026, 1, 1), "Count")
    stats = MetricAggregatedDatum(
        "AWS/Lambda", "Duration", 1.0, 1.0, 2.0, 2.0, dims, datetime(2026, 1, 1), "Milliseconds"
    )
    base = {"namespace", "name", "timestamp", "dimensions", "unit"}
    assert set(vars(single)) == base | {"value"}, vars(single)
    assert set(vars(stats)) == base | {"min", "max", "sample_count", "sum"}, vars(stats)
    assert isinstance(CloudWatchBackend("af-south-1", "123456789012").metric_data, list)


def test_log_model_attributes_the_insights_extension_reads() -> None:
    """logs_insights reads groups, streams and events of moto's log model and rewrites a query's results."""
    from moto.logs.models import LogsBackend

    backend = LogsBackend("af-south-1", "123456789012")
    backend.create_log_group("g", {})
    group = backend.groups["g"]
    group.create_log_stream("s")
    group.put_log_events("s", [{"timestamp": 1000, "message": "ERROR x"}])
    [event] = group.streams["s"].events
    assert (event.timestamp, event.message) == (1000, "ERROR x") and isinstance(event.event_id, int)
    assert group.streams["s"].log_stream_name == "s" and group.name == "g"
    query_id = backend.start_query(["g"], 0, 2, "fields @message")
    assert {"query", "results"} <= set(vars(backend.queries[query_id]))


def test_task_status_is_the_managed_state_property() -> None:
    from moto.ecs.models import Task

    assert isinstance(inspect.getattr_static(Task, "status"), property), (
        "moto's Task.status is no longer a property: ServiceTask cannot pin it"
    )
    assert "_status" in inspect.getsource(inspect.getattr_static(Task, "status").fget), (
        "moto's Task.status no longer keeps _status"
    )


def test_motos_request_handler_is_werkzeugs() -> None:
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    assert issubclass(MotoRequestHandler, WSGIRequestHandler), (
        "MotoRequestHandler is no longer a werkzeug WSGIRequestHandler (server.py subclasses it)"
    )


def test_moto_has_no_stop_query_of_its_own() -> None:
    """logs_insights adds StopQuery; a moto that implements it must be re-checked, not overwritten."""
    from harness.targets.embedded.fidelity import logs_insights

    for owner, name, fn in logs_insights.ADDED:
        assert owner.__dict__.get(name, fn) is fn, (
            f"moto {moto.__version__} defines {owner.__qualname__}.{name} itself; re-check logs_insights"
        )


def test_moto_has_no_rollback_stack_of_its_own() -> None:
    """cloudformation_states adds RollbackStack; a moto that implements it must be re-checked, not overwritten."""
    from moto.cloudformation.responses import CloudFormationResponse

    from harness.targets.embedded.fidelity import cloudformation_states

    for owner, name, fn in cloudformation_states.ADDED:
        assert owner.__dict__.get(name, fn) is fn, (
            f"moto {moto.__version__} defines {owner.__qualname__}.{name} itself; re-check cloudformation_states"
        )
    assert (
        "rollback_stack" in cloudformation_states.ADDED[0][1]
        and CloudFormationResponse is cloudformation_states.ADDED[0][0]
    )


def test_every_patched_attribute_is_pinned_and_defined_on_its_class() -> None:
    pinned = {p.symbol.split(":")[1] for p in PINS}
    for extension in fidelity.EXTENSIONS:
        for owner, name, _ in fidelity.load(extension).PATCHES:
            assert f"{owner.__qualname__}.{name}" in pinned, (
                f"{extension} patches {owner.__qualname__}.{name} but the contract does not pin it"
            )
            assert name in owner.__dict__, (
                f"moto {moto.__version__}: {owner.__qualname__}.{name} is no longer defined on the class "
                f"({extension} patches it)"
            )


def _moto_imports(path: Path) -> set[str]:
    """``module:name`` for every ``from moto... import name`` in ``path``."""
    tree = ast.parse(path.read_text())
    return {
        f"{node.module}:{alias.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("moto")
        for alias in node.names
    }


def test_every_moto_symbol_imported_is_pinned() -> None:
    symbols = {p.symbol for p in PINS}
    for path in [*sorted(FIDELITY_DIR.glob("*.py")), SERVER]:
        for imported in _moto_imports(path):
            covered = imported in symbols or any(s.startswith(imported + ".") for s in symbols)
            assert covered, (
                f"{path.relative_to(REPO)} imports {imported}, which tests/fidelity/test_moto_contract.py does not pin"
            )


def test_installed_moto_is_in_the_pinned_range() -> None:
    assert moto.__version__ in SpecifierSet(fidelity.MOTO_REQUIREMENT), (
        f"moto {moto.__version__} is outside {fidelity.MOTO_REQUIREMENT}, the range the fidelity extensions are "
        "written against"
    )
    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    assert f"moto[server]{fidelity.MOTO_REQUIREMENT}" in dependencies, (
        "pyproject.toml's moto pin differs from fidelity.MOTO_REQUIREMENT"
    )
