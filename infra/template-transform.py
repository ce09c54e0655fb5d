"""Print the SAM-transformed template as JSON, offline, as CloudFormation's
transform would see it with the given parameter values.

    template-transform.py template.yaml [Name=Value ...]

Run with the sam-venv python (infra/lint-template.sh installs it). CodeUri
becomes s3://valdrix-build/<crate>/<CODE_REVISION> ("sam build"'s job); set
CODE_REVISION to stand for new code. The tests in infra/tests/rollouts.rs
and infra/tests/iam.rs read the output.
"""
import json
import os
import sys

from samtranslator.public.translator import ManagedPolicyLoader  # noqa: F401
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class NoPolicies:
    def load(self):
        return {}


def main(path, pairs):
    template = yaml_parse(open(path).read())
    revision = os.environ.get("CODE_REVISION", "1")
    for res in template.get("Resources", {}).values():
        if res.get("Type") == "AWS::Serverless::Function":
            crate = res["Properties"]["CodeUri"].rsplit("/", 1)[-1]
            res["Properties"]["CodeUri"] = f"s3://valdrix-build/{crate}/{revision}"
    params = dict(pair.split("=", 1) for pair in pairs)
    out = transform(template, params, NoPolicies())
    json.dump(out, sys.stdout, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
