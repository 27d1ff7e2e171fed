"""Writes each chart's values.schema.json from the definitions below.

The schemas are generated so that shared shapes (image, resources, security contexts) are
written once; `test_charts.py` fails when a committed schema differs from this output.
Run: .tools/chart-tests/bin/python charts/tests/make_schemas.py
"""

import json
import pathlib

CHARTS = pathlib.Path(__file__).resolve().parent.parent


def obj(properties, required=(), extra=False, **kw):
    schema = {"type": "object", "properties": properties, "additionalProperties": extra, **kw}
    if required:
        schema["required"] = list(required)
    return schema


STR = {"type": "string"}
BOOL = {"type": "boolean"}
MAP_STR = {"type": "object", "additionalProperties": {"type": "string"}}
ANY_OBJ = {"type": "object"}
LIST_OBJ = {"type": "array", "items": {"type": "object"}}
PORT = {"type": "integer", "minimum": 1, "maximum": 65535}
DURATION = {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?(ms|s|m|h)$"}
QUANTITY = {"type": ["string", "integer", "number"], "pattern": r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$"}
NAME = {"type": "string", "maxLength": 63}


def image():
    return obj(
        {
            "repository": {"type": "string", "minLength": 1},
            "tag": STR,
            "digest": {"type": "string", "pattern": r"^(sha256:[a-f0-9]{64})?$"},
            "pullPolicy": {"enum": ["Always", "IfNotPresent", "Never"]},
        },
        required=["repository"],
    )


def resources():
    limits = obj({"cpu": QUANTITY, "memory": QUANTITY, "ephemeral-storage": QUANTITY})
    return obj(
        {"requests": limits, "limits": limits},
        required=["requests", "limits"],
        description="Requests and limits are both required: an agent or API without limits can starve a node.",
    )


def service_account():
    return obj(
        {
            "create": BOOL,
            "name": NAME,
            "roleArn": {"type": "string", "pattern": r"^(arn:aws[a-z-]*:iam::[0-9]{12}:role/.+)?$"},
            "annotations": MAP_STR,
        }
    )


def container_security_context():
    return obj(
        {
            "allowPrivilegeEscalation": {"const": False},
            "readOnlyRootFilesystem": BOOL,
            "privileged": {"const": False},
            "capabilities": obj({"drop": {"type": "array", "items": STR}, "add": {"type": "array", "items": STR}}),
            "runAsNonRoot": BOOL,
            "runAsUser": {"type": "integer", "minimum": 0},
            "runAsGroup": {"type": "integer", "minimum": 0},
            "seccompProfile": ANY_OBJ,
        },
        description="privileged and allowPrivilegeEscalation cannot be turned on.",
    )


def pod_security_context():
    return obj(
        {
            "runAsNonRoot": BOOL,
            "runAsUser": {"type": "integer", "minimum": 0},
            "runAsGroup": {"type": "integer", "minimum": 0},
            "fsGroup": {"type": "integer", "minimum": 0},
            "seccompProfile": obj({"type": {"enum": ["RuntimeDefault", "Localhost"]}, "localhostProfile": STR}, required=["type"]),
        },
        required=["seccompProfile"],
    )


def common():
    return {
        "nameOverride": NAME,
        "fullnameOverride": NAME,
        "commonLabels": MAP_STR,
        "image": image(),
        "imagePullSecrets": LIST_OBJ,
        "serviceAccount": service_account(),
        "podAnnotations": MAP_STR,
        "podLabels": MAP_STR,
        "podSecurityContext": pod_security_context(),
        "securityContext": container_security_context(),
        "resources": resources(),
        "nodeSelector": MAP_STR,
        "tolerations": LIST_OBJ,
        "affinity": ANY_OBJ,
        "priorityClassName": STR,
    }


def probe():
    n = {"type": "integer", "minimum": 0}
    return obj({k: n for k in ("initialDelaySeconds", "periodSeconds", "timeoutSeconds", "failureThreshold", "successThreshold")})


def seconds(minimum=0, maximum=3600):
    return {"type": "integer", "minimum": minimum, "maximum": maximum}


def task_api():
    cloudwatch_rule = obj(
        {"selector": {"type": "string", "minLength": 1}, "dimensions": {"type": "array", "items": STR}, "name": STR},
        required=["selector"],
    )
    return obj(
        {
            **common(),
            "replicaCount": {"type": "integer", "minimum": 1},
            "revisionHistoryLimit": {"type": "integer", "minimum": 0},
            "auth": obj(
                {
                    "required": BOOL,
                    "jwtSecret": {"type": "string", "anyOf": [{"maxLength": 0}, {"minLength": 32}],
                                  "description": "HS256 secrets shorter than 32 bytes are refused."},
                    "jwtPublicKey": {"type": "string", "pattern": r"^(|-----BEGIN PUBLIC KEY-----[\s\S]*)$"},
                    "existingSecret": NAME,
                    "existingSecretKey": {"type": "string", "minLength": 1},
                    "existingSecretAlgorithm": {"enum": ["hs256", "rs256"]},
                    "issuer": STR,
                    "audience": STR,
                }
            ),
            "database": obj(
                {
                    "url": {"type": "string", "pattern": r"^(|postgres(ql)?://.+)$",
                            "description": "A PostgreSQL URL, or empty."},
                    "existingSecret": NAME,
                    "existingSecretKey": {"type": "string", "minLength": 1},
                    "embeddedSqlite": BOOL,
                    "maxConnections": {"type": "integer", "minimum": 1, "maximum": 1000},
                    "acquireTimeout": DURATION,
                }
            ),
            "http": obj(
                {
                    "requestTimeout": DURATION,
                    "bodyLimitBytes": {"type": "integer", "minimum": 1},
                    "concurrencyLimit": {"type": "integer", "minimum": 1},
                }
            ),
            "shutdown": obj(
                {
                    "preStopSleepSeconds": seconds(0, 60),
                    "drainDelaySeconds": seconds(0, 300),
                    "timeoutSeconds": seconds(1, 300),
                    "slackSeconds": seconds(0, 60),
                },
                required=["preStopSleepSeconds", "drainDelaySeconds", "timeoutSeconds", "slackSeconds"],
            ),
            "log": obj({"level": {"type": "string", "minLength": 1}, "format": {"enum": ["json", "pretty"]}}),
            "logFile": obj(
                {
                    "enabled": BOOL,
                    "directory": {"type": "string", "pattern": "^/"},
                    "maxBytes": {"type": "integer", "minimum": 1048576},
                    "maxFiles": {"type": "integer", "minimum": 1, "maximum": 100},
                    "sizeLimit": QUANTITY,
                }
            ),
            "telemetry": obj(
                {
                    "enabled": BOOL,
                    "tasksGaugeInterval": DURATION,
                    "otlp": obj(
                        {
                            "endpoint": {"type": "string", "pattern": "^(|https?://.+)$"},
                            "sampler": {"enum": ["always_on", "always_off", "traceidratio", "parentbased_always_on",
                                                 "parentbased_always_off", "parentbased_traceidratio"]},
                            "samplerArg": {"type": "string", "pattern": r"^(|0(\.[0-9]+)?|1(\.0+)?)$"},
                            "resourceAttributes": STR,
                        }
                    ),
                }
            ),
            "extraEnv": LIST_OBJ,
            "service": obj(
                {"type": {"enum": ["ClusterIP", "NodePort", "LoadBalancer"]}, "port": PORT, "adminPort": PORT,
                 "annotations": MAP_STR}
            ),
            "probes": obj({"liveness": probe(), "readiness": probe(), "startup": probe()}),
            "topologySpread": obj(
                {
                    "enabled": BOOL,
                    "maxSkew": {"type": "integer", "minimum": 1},
                    "zoneWhenUnsatisfiable": {"enum": ["DoNotSchedule", "ScheduleAnyway"]},
                    "hostnameWhenUnsatisfiable": {"enum": ["DoNotSchedule", "ScheduleAnyway"]},
                }
            ),
            "autoscaling": obj(
                {
                    "enabled": BOOL,
                    "minReplicas": {"type": "integer", "minimum": 2,
                                    "description": "At least 2, so a PodDisruptionBudget can let a node drain."},
                    "maxReplicas": {"type": "integer", "minimum": 2},
                    "targetCPUUtilizationPercentage": {"type": "integer", "minimum": 1, "maximum": 100},
                    "scaleDownStabilizationSeconds": seconds(0, 3600),
                }
            ),
            "podDisruptionBudget": obj({"enabled": BOOL, "maxUnavailable": {"type": ["integer", "string"]}}),
            "networkPolicy": obj({"enabled": BOOL, "monitoringNamespace": {"type": "string", "minLength": 1},
                                  "extraPublicFrom": LIST_OBJ}),
            "serviceMonitor": obj({"enabled": BOOL, "labels": MAP_STR, "interval": DURATION, "scrapeTimeout": DURATION}),
            "agentSidecar": obj(
                {
                    "enabled": BOOL,
                    "image": image(),
                    "port": PORT,
                    "cluster": STR,
                    "region": {"type": "string", "pattern": "^([a-z]{2}(-gov)?-[a-z]+-[0-9])?$"},
                    "cloudwatch": obj(
                        {
                            "namespace": {"type": "string", "minLength": 1, "not": {"pattern": "^AWS/"},
                                          "description": "AWS/ is reserved for AWS services."},
                            "pushIntervalSeconds": seconds(1, 3600),
                            "metrics": {"type": "array", "items": cloudwatch_rule, "minItems": 1},
                        }
                    ),
                    "logs": obj({"enabled": BOOL, "lokiEndpoint": {"type": "string", "pattern": "^https?://"},
                                 "tenantId": STR}),
                    "shutdownTimeoutSeconds": seconds(0, 300),
                    "resources": resources(),
                }
            ),
        },
        title="task-api values",
    )


def node_agent():
    return obj(
        {
            **common(),
            "aws": obj({"region": {"type": "string", "pattern": "^([a-z]{2}(-gov)?-[a-z]+-[0-9])?$"}}),
            "port": PORT,
            "config": obj(
                {
                    "server": {"not": {}, "description": "Set by the chart from port."},
                    "log": ANY_OBJ,
                    "identity": obj({"cluster": STR, "node": STR, "instance": STR, "instance_from_metadata": BOOL}),
                    "sources": ANY_OBJ,
                    "sinks": ANY_OBJ,
                    "shutdown": obj({"timeout_seconds": {"type": "number", "minimum": 0, "maximum": 300}}),
                },
                description="The agent's configuration (docs/agent.md); the agent itself validates the sections.",
            ),
            "stateHostPath": {"type": "string", "pattern": "^/.+"},
            "updateStrategy": ANY_OBJ,
            "podMonitor": obj({"enabled": BOOL, "labels": MAP_STR, "interval": DURATION, "scrapeTimeout": DURATION,
                               "jobLabel": {"type": "string", "minLength": 1}}),
        },
        title="node-agent values",
    )


def observability():
    return obj(
        {
            "nameOverride": NAME,
            "fullnameOverride": NAME,
            "commonLabels": MAP_STR,
            "prometheusRules": obj({"enabled": BOOL, "labels": MAP_STR}),
            "dashboards": obj(
                {
                    "enabled": BOOL,
                    "label": {"type": "string", "minLength": 1},
                    "labelValue": STR,
                    "folder": STR,
                    "namespace": STR,
                }
            ),
            "alertmanager": obj({"enabled": BOOL, "secretName": STR, "receiversSecret": {"type": "string", "minLength": 1}}),
        },
        title="watchpost-observability values",
    )


SCHEMAS = {"task-api": task_api, "node-agent": node_agent, "watchpost-observability": observability}


def render(name):
    schema = {"$schema": "http://json-schema.org/draft-07/schema#", **SCHEMAS[name]()}
    return json.dumps(schema, indent=2) + "\n"


if __name__ == "__main__":
    for name in SCHEMAS:
        (CHARTS / name / "values.schema.json").write_text(render(name))
