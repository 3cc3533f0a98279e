#!/usr/bin/python3
"""Strict offline check of Kubernetes manifests against the typed models of
python3-kubernetes (Debian's package; no cluster, no API server).

    k8s_validate.py [--newer-kind KIND]... FILE...

Every document's kind/apiVersion must name a model; every key at every level
must be a field of that model (the client's own deserializer silently drops
unknown fields, which is exactly the typo a manifest review misses), values
must have the field's type, and the models' required fields are enforced by
building the objects.  A kind named with --newer-kind (an API newer than the
models, e.g. ValidatingAdmissionPolicy v1 of Kubernetes 1.30) is reported as
not checked instead of failing.  Prints one line per document, exits 1 on any
error.
"""
import datetime
import sys

import yaml
from kubernetes import client

PRIMITIVES = {"str": str, "int": int, "bool": bool, "float": (int, float)}


def model_class(kind, api_version):
    group_version = api_version.split("/")[-1]
    name = "V1" + kind if group_version == "v1" else group_version.capitalize() + kind
    return getattr(client, name, None)


def check(value, type_name, path, errors):
    if value is None:
        return
    if type_name.startswith("list["):
        if not isinstance(value, list):
            errors.append(f"{path}: expected a list, got {type(value).__name__}")
            return
        for i, item in enumerate(value):
            check(item, type_name[5:-1], f"{path}[{i}]", errors)
        return
    if type_name.startswith("dict("):
        if not isinstance(value, dict):
            errors.append(f"{path}: expected a map, got {type(value).__name__}")
            return
        inner = type_name[5:-1].split(", ", 1)[1]
        for k, v in value.items():
            check(v, inner, f"{path}.{k}", errors)
        return
    if type_name == "object":
        return
    if type_name == "datetime":
        if not isinstance(value, (str, datetime.datetime)):
            errors.append(f"{path}: expected a time")
        return
    if type_name in PRIMITIVES:
        # YAML's 0555 is an int, "on"/"yes" are not booleans in YAML 1.2 but
        # PyYAML reads them so: a str field given an int or bool is an error.
        want = PRIMITIVES[type_name]
        if not isinstance(value, want) or (type_name == "int" and isinstance(value, bool)):
            errors.append(f"{path}: expected {type_name}, got {type(value).__name__} {value!r}")
        return
    cls = getattr(client, type_name, None)
    if cls is None:
        errors.append(f"{path}: unknown model {type_name}")
        return
    if not isinstance(value, dict):
        errors.append(f"{path}: expected an object ({type_name}), got {type(value).__name__}")
        return
    fields = {json_name: attr for attr, json_name in cls.attribute_map.items()}
    for key, v in value.items():
        if key not in fields:
            errors.append(f"{path}.{key}: not a field of {type_name}")
            continue
        check(v, cls.openapi_types[fields[key]], f"{path}.{key}", errors)


def build(value, type_name):
    """Builds the model (the constructors raise ValueError on a missing required field)."""
    api = client.ApiClient()
    return api._ApiClient__deserialize(value, type_name)  # pylint: disable=protected-access


def main(args):
    newer, paths = set(), []
    while args:
        if args[0] == "--newer-kind" and len(args) > 1:
            newer.add(args[1])
            args = args[2:]
        else:
            paths.append(args[0])
            args = args[1:]
    failed = False
    for path in paths:
        with open(path, encoding="utf-8") as f:
            docs = [d for d in yaml.safe_load_all(f) if d is not None]
        for n, doc in enumerate(docs):
            where = f"{path}#{n} {doc.get('kind', '?')}/{doc.get('metadata', {}).get('name', '?')}"
            if doc.get("apiVersion", "").startswith("kustomize.config.k8s.io/"):
                print(f"skip {where}: a kustomization (kubectl kustomize checks it)")
                continue
            cls = model_class(doc.get("kind", ""), doc.get("apiVersion", ""))
            if cls is None and doc.get("kind") in newer:
                print(f"skip {where}: {doc.get('apiVersion')} is newer than these models (not checked)")
                continue
            if cls is None:
                print(f"FAIL {where}: no model for {doc.get('apiVersion')} {doc.get('kind')}")
                failed = True
                continue
            errors = []
            check(doc, cls.__name__, doc.get("kind", "?"), errors)
            if not errors:
                try:
                    build(doc, cls.__name__)
                except (ValueError, TypeError) as e:
                    errors.append(f"building {cls.__name__}: {e}")
            if errors:
                failed = True
                for e in errors:
                    print(f"FAIL {where}: {e}")
            else:
                print(f"ok {where} ({cls.__name__})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
