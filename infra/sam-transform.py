"""Print template.yaml after the SAM transform, as CloudFormation JSON.

The local stack (`valdrix local-stack`) reads what AWS would create from this:
the functions with their Globals merged, the HTTP API's routes, the event source
mapping, the schedules and the bucket notification. Intrinsic functions (Ref,
Fn::Sub, Fn::GetAtt) are left for the caller to resolve. CodeUri is replaced by a
placeholder S3 location (packaging is `sam build`'s job) and kept beside the
template, by logical id:  {"template": {...}, "code_uris": {"HealthFunction": "functions/health"}}
Run with the sam-venv python (infra/lint-template.sh installs it):
    .valdrix-tools/sam-venv/bin/python infra/sam-transform.py template.yaml
"""
import json
import sys

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class NoPolicies:
    def load(self):
        return {}


def main(path):
    template = yaml_parse(open(path).read())
    code_uris = {}
    for name, res in template.get("Resources", {}).items():
        if res.get("Type") == "AWS::Serverless::Function":
            code_uris[name] = res["Properties"].get("CodeUri")
            res["Properties"]["CodeUri"] = "s3://bucket/key"
    out = transform(template, {}, NoPolicies())
    json.dump({"template": out, "code_uris": code_uris}, sys.stdout, indent=1, sort_keys=True, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "template.yaml"))
