"""Fail when the SAM-transformed template has a dependency cycle.

cfn-lint's own cycle check skips UpdatePolicy, but CloudFormation counts a Ref
there (the CodeDeploy hook of an alias) as a dependency.
Run with the sam-venv python: template-cycles.py template.yaml
"""
import re
import sys

from samtranslator.public.translator import ManagedPolicyLoader  # noqa: F401
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class NoPolicies:
    def load(self):
        return {}


def refs(node, out):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                out.add(value)
            elif key == "Fn::GetAtt":
                out.add(value[0] if isinstance(value, list) else value.split(".")[0])
            elif key == "Fn::Sub":
                text = value if isinstance(value, str) else value[0]
                out.update(m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text))
                if not isinstance(value, str):
                    refs(value[1], out)
            else:
                refs(value, out)
    elif isinstance(node, list):
        for item in node:
            refs(item, out)


def main(path):
    template = yaml_parse(open(path).read())
    for res in template.get("Resources", {}).values():
        if res.get("Type") == "AWS::Serverless::Function":
            res["Properties"]["CodeUri"] = "s3://bucket/key"  # sam build's job
    resources = transform(template, {}, NoPolicies())["Resources"]
    graph = {}
    for name, res in resources.items():
        deps = set()
        refs(res, deps)
        depends_on = res.get("DependsOn", [])
        deps.update(depends_on if isinstance(depends_on, list) else [depends_on])
        graph[name] = sorted(d for d in deps if d in resources and d != name)

    WHITE, GREY, BLACK = 0, 1, 2
    colour = dict.fromkeys(graph, WHITE)

    def visit(node, path):
        colour[node] = GREY
        for dep in graph[node]:
            if colour[dep] == GREY:
                return path[path.index(dep):] + [dep] if dep in path else [node, dep]
            if colour[dep] == WHITE:
                found = visit(dep, path + [dep])
                if found:
                    return found
        colour[node] = BLACK
        return None

    for start in graph:
        if colour[start] == WHITE:
            cycle = visit(start, [start])
            if cycle:
                print("dependency cycle: " + " -> ".join(cycle), file=sys.stderr)
                return 1
    print(f"{path}: no dependency cycle among {len(graph)} resources", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "template.yaml"))
