"""A small evaluator of the GitLab CI semantics that gitlab-ci-local does not implement.

gitlab-ci-local runs every job it finds: it applies neither `workflow: rules` nor the default a
job without `rules:` gets (`only: [branches, tags]`), so it cannot show that a merge request
pipeline lacks a job another job `needs`. This module rebuilds, from GitLab's documentation,
just enough of the pipeline-creation step to check that:

- includes with `spec: inputs` (interpolation of `$[[ inputs.name ]]`, defaults applied);
- merging of included files (hashes merged deeply, later files win), `!reference` tags
  (a referenced list inside `rules:` is flattened one level), `extends:` (hashes merged deeply,
  other values replaced, the job's own keys last);
- `rules:if` expressions: `$VAR`, `==`, `!=`, `=~ /re/`, `!~ /re/`, `&&` (binds tighter),
  `||`, parentheses; first matching rule wins; no match means the job is absent;
- a job without `rules:` is in branch and tag pipelines only (GitLab's default
  `only: [branches, tags]`), never in merge request pipelines;
- `workflow: rules` decide whether a pipeline is created at all.

Documentation it follows: docs.gitlab.com/ci/jobs/job_rules/ (rules, expression syntax),
docs.gitlab.com/ci/yaml/#only--except (the default), docs.gitlab.com/ci/yaml/#workflowrules,
docs.gitlab.com/ci/yaml/yaml_optimization/#reference-tags, docs.gitlab.com/ci/yaml/#extends.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.scanning import scan


@dataclass(frozen=True)
class Reference:
    """A `!reference [job, key, ...]` tag, resolved after the files are merged."""

    path: tuple[str, ...]


class _Loader(yaml.SafeLoader):
    pass


def _reference(loader: yaml.SafeLoader, node: yaml.Node) -> Reference:
    assert isinstance(node, yaml.SequenceNode)
    return Reference(tuple(str(item.value) for item in node.value))


_Loader.add_constructor("!reference", _reference)


def documents(path: Path) -> list[Any]:
    """The YAML documents of a template (`spec:` header, then the body), `!reference` kept."""
    return list(yaml.load_all(path.read_text(), Loader=_Loader))


# --- building the configuration ---------------------------------------------------------------

_INPUT = re.compile(r"\$\[\[\s*inputs\.([\w-]+)\s*\]\]")


def _interpolate(value: Any, inputs: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        whole = _INPUT.fullmatch(value)
        if whole:  # exactly one block: the input keeps its type (an array stays an array)
            return copy.deepcopy(inputs[whole[1]])
        return _INPUT.sub(lambda m: _text(inputs[m[1]]), value)
    if isinstance(value, list):
        return [_interpolate(item, inputs) for item in value]
    if isinstance(value, dict):
        return {key: _interpolate(item, inputs) for key, item in value.items()}
    return value


def _text(value: Any) -> str:
    """An input inside a longer string: GitLab writes an array with Ruby's to_s,
    `["3.11", "3.12"]`, which for plain strings is what json.dumps writes."""
    return value if isinstance(value, str) else json.dumps(value)


def include(path: Path, inputs: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One included file's body, its inputs interpolated (defaults for those not given)."""
    docs = documents(path)
    if len(docs) == 1:
        return dict(docs[0])
    spec = (docs[0]["spec"] or {}).get("inputs") or {}
    given = dict(inputs or {})
    unknown = set(given) - set(spec)
    assert not unknown, f"{path.name}: unknown inputs {sorted(unknown)} (GitLab refuses them)"
    values = {name: given.get(name, entry.get("default")) for name, entry in spec.items()}
    missing = [name for name, value in values.items() if value is None]
    assert not missing, f"{path.name}: inputs without a value: {missing}"
    body: dict[str, Any] = _interpolate(docs[1], values)
    return body


def _deep_merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        merged = dict(base)
        for key, value in over.items():
            merged[key] = _deep_merge(base[key], value) if key in base else value
        return merged
    return over


def _resolve_references(value: Any, config: Mapping[str, Any]) -> Any:
    if isinstance(value, Reference):
        target: Any = config
        for key in value.path:
            target = target[key]
        return _resolve_references(copy.deepcopy(target), config)
    if isinstance(value, list):
        flat: list[Any] = []
        for item in value:
            resolved = _resolve_references(item, config)
            # A referenced list inside a list is flattened one level (rules, script).
            if isinstance(item, Reference) and isinstance(resolved, list):
                flat.extend(resolved)
            else:
                flat.append(resolved)
        return flat
    if isinstance(value, dict):
        return {key: _resolve_references(item, config) for key, item in value.items()}
    return value


def _extended(name: str, config: Mapping[str, Any], seen: tuple[str, ...] = ()) -> dict[str, Any]:
    assert name not in seen, f"extends loop: {(*seen, name)}"
    job = dict(config[name])
    parents = job.pop("extends", [])
    parents = [parents] if isinstance(parents, str) else parents
    merged: dict[str, Any] = {}
    for parent in parents:
        merged = _deep_merge(merged, _extended(parent, config, (*seen, name)))
    result: dict[str, Any] = _deep_merge(merged, job)
    return result


GLOBAL_KEYS = {"variables", "workflow", "include", "stages", "default", "spec"}


def configuration(*bodies: Mapping[str, Any]) -> dict[str, Any]:
    """Merge included bodies (later ones win), resolve `!reference`, then `extends`."""
    merged: dict[str, Any] = {}
    for body in bodies:
        merged = _deep_merge(merged, dict(body))
    merged = _resolve_references(merged, merged)
    return {
        name: (_extended(name, merged) if name not in GLOBAL_KEYS else value)
        for name, value in merged.items()
    }


def jobs(config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The visible jobs (hidden `.name` templates and global keywords left out)."""
    return {
        name: job
        for name, job in config.items()
        if not name.startswith(".") and name not in GLOBAL_KEYS and isinstance(job, dict)
    }


# --- rules:if expressions ---------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<var>\$\{?(?P<name>\w+)\}?)
      | "(?P<dq>[^"]*)" | '(?P<sq>[^']*)'
      | /(?P<re>(?:\\/|[^/])*)/(?P<flags>[a-z]*)
      | (?P<op>==|!=|=~|!~|&&|\|\||\(|\))
      | (?P<null>null)
    )""",
    re.X,
)


def _tokens(expression: str) -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    for match in scan(_TOKEN, expression):
        if match["var"]:
            found.append(("var", match["name"]))
        elif match["dq"] is not None or match["sq"] is not None:
            found.append(("str", match["dq"] if match["dq"] is not None else match["sq"]))
        elif match["re"] is not None:
            flags = re.I if "i" in match["flags"] else 0
            found.append(("re", re.compile(match["re"].replace("\\/", "/"), flags)))
        elif match["null"]:
            found.append(("null", None))
        else:
            found.append(("op", match["op"]))
    return found


class _Parser:
    def __init__(self, expression: str, variables: Mapping[str, str]) -> None:
        self.tokens = _tokens(expression)
        self.variables = variables
        self.expression = expression

    def parse(self) -> bool:
        value = self._or()
        assert not self.tokens, f"trailing {self.tokens} in {self.expression!r}"
        return value

    def _peek(self) -> tuple[str, Any] | None:
        return self.tokens[0] if self.tokens else None

    def _or(self) -> bool:
        value = self._and()
        while self._peek() == ("op", "||"):
            self.tokens.pop(0)
            right = self._and()
            value = value or right
        return value

    def _and(self) -> bool:
        value = self._primary()
        while self._peek() == ("op", "&&"):
            self.tokens.pop(0)
            right = self._primary()
            value = value and right
        return value

    def _operand(self) -> Any:
        kind, value = self.tokens.pop(0)
        if kind == "var":
            return self.variables.get(value)  # None: not defined
        assert kind in ("str", "null", "re"), f"unexpected {value!r} in {self.expression!r}"
        return value

    def _primary(self) -> bool:
        if self._peek() == ("op", "("):
            self.tokens.pop(0)
            value = self._or()
            assert self.tokens.pop(0) == ("op", ")"), self.expression
            return value
        left = self._operand()
        token = self._peek()
        if token is None or token[0] != "op" or token[1] not in ("==", "!=", "=~", "!~"):
            return bool(left)  # a lone variable: defined and not empty
        self.tokens.pop(0)
        right = self._operand()
        if token[1] in ("=~", "!~"):
            assert isinstance(right, re.Pattern), f"=~ needs a /regex/: {self.expression!r}"
            found = left is not None and right.search(str(left)) is not None
            return found if token[1] == "=~" else not found
        equal = left == right  # an undefined variable (None) equals only null
        return equal if token[1] == "==" else not equal


def evaluate(expression: str, variables: Mapping[str, str]) -> bool:
    return _Parser(expression, variables).parse()


# --- pipelines --------------------------------------------------------------------------------

DEFAULT_BRANCH = "main"


@dataclass(frozen=True)
class Pipeline:
    """The predefined variables GitLab sets for one kind of pipeline."""

    name: str
    variables: Mapping[str, str]

    @property
    def ref_is_branch_or_tag(self) -> bool:
        """What `only: [branches, tags]` (a job without rules) matches: not a merge request."""
        return self.variables.get("CI_PIPELINE_SOURCE") != "merge_request_event"


def _pipeline(name: str, source: str, ref: str, **extra: str) -> Pipeline:
    variables = {
        "CI_PIPELINE_SOURCE": source,
        "CI_DEFAULT_BRANCH": DEFAULT_BRANCH,
        "CI_COMMIT_REF_NAME": ref,
        "CI_COMMIT_REF_PROTECTED": "true" if ref == DEFAULT_BRANCH else "false",
        **extra,
    }
    return Pipeline(name, variables)


PIPELINES = (
    _pipeline("push to the default branch", "push", "main", CI_COMMIT_BRANCH="main"),
    _pipeline("push to a branch", "push", "feature", CI_COMMIT_BRANCH="feature"),
    _pipeline(
        "push to a branch with an open merge request",
        "push",
        "feature",
        CI_COMMIT_BRANCH="feature",
        CI_OPEN_MERGE_REQUESTS="acme/project!1",
    ),
    _pipeline(
        "merge request",
        "merge_request_event",
        "feature",
        CI_MERGE_REQUEST_IID="1",
        CI_MERGE_REQUEST_SOURCE_BRANCH_NAME="feature",
        CI_OPEN_MERGE_REQUESTS="acme/project!1",
    ),
    _pipeline("tag", "push", "v1.2.3", CI_COMMIT_TAG="v1.2.3"),
    _pipeline("schedule", "schedule", "main", CI_COMMIT_BRANCH="main"),
    _pipeline("run from the web UI", "web", "feature", CI_COMMIT_BRANCH="feature"),
)


def _first_match(rules: list[dict[str, Any]], variables: Mapping[str, str]) -> dict[str, Any]:
    for rule in rules:
        if "if" not in rule or evaluate(rule["if"], variables):
            return rule
    return {"when": "never"}


def pipeline_created(config: Mapping[str, Any], pipeline: Pipeline) -> bool:
    workflow = config.get("workflow")
    if not workflow or "rules" not in workflow:
        return True
    variables = {**_global_variables(config), **pipeline.variables}
    return bool(_first_match(workflow["rules"], variables).get("when", "always") != "never")


def auto_cancel(config: Mapping[str, Any], pipeline: Pipeline) -> str:
    """`workflow:auto_cancel:on_new_commit` for this pipeline: the matching workflow rule's,
    else the workflow's, else GitLab's default, `conservative`."""
    workflow = config.get("workflow") or {}
    mode = str((workflow.get("auto_cancel") or {}).get("on_new_commit", "conservative"))
    if "rules" in workflow:
        variables = {**_global_variables(config), **pipeline.variables}
        rule = _first_match(workflow["rules"], variables)
        mode = str((rule.get("auto_cancel") or {}).get("on_new_commit", mode))
    return mode


def _global_variables(config: Mapping[str, Any]) -> dict[str, str]:
    return {key: _text(value) for key, value in (config.get("variables") or {}).items()}


@dataclass(frozen=True)
class Presence:
    present: bool
    interruptible: bool


def job_presence(config: Mapping[str, Any], job: Mapping[str, Any], pipeline: Pipeline) -> Presence:
    """Is the job in this pipeline, and may a newer pipeline cancel it?"""
    job_variables = {key: _text(value) for key, value in (job.get("variables") or {}).items()}
    variables = {**_global_variables(config), **job_variables, **pipeline.variables}
    default_interruptible = bool(job.get("interruptible", False))
    if "rules" not in job:
        assert "only" not in job and "except" not in job, "only/except: not modelled"
        return Presence(pipeline.ref_is_branch_or_tag, default_interruptible)
    rule = _first_match(job["rules"], variables)
    present = rule.get("when", "on_success") != "never"
    return Presence(present, bool(rule.get("interruptible", default_interruptible)))


def missing_needs(config: Mapping[str, Any], pipeline: Pipeline) -> list[str]:
    """GitLab refuses a pipeline where a job needs one that is not in it; its error lines."""
    visible = jobs(config)
    present = {name for name, job in visible.items() if job_presence(config, job, pipeline).present}
    problems = []
    for name in sorted(present):
        for need in visible[name].get("needs") or []:
            needed = need if isinstance(need, str) else need["job"]
            optional = isinstance(need, dict) and need.get("optional", False)
            if needed not in present and not optional:
                problems.append(
                    f"'{name}' job needs '{needed}' job, but '{needed}' does not exist"
                    " in the pipeline"
                )
    return problems


# --- caches and artifacts: what file a job starts with ------------------------------------------
#
# docs.gitlab.com/ci/caching/: "By default, the cache is stored on the machine where GitLab
# Runner is installed" (a runner without a distributed cache keeps its own). "fallback_keys: ...
# if there is no cache for the cache:key, the runner tries each fallback key in order".
# Protected branches: with "Use separate caches for protected branches" (on by default), "the
# cache key ... is appended with -protected or -non_protected", the fallback keys included.
# docs.gitlab.com/ci/yaml/#needs: a job downloads the artifacts of the jobs it needs (artifacts:
# true is the default), which GitLab stores on the server, the same for every runner.


@dataclass
class Runners:
    """Each runner's local cache: {runner: {effective key: content}}."""

    caches: dict[str, dict[str, str]]
    separate_protected: bool = True

    def effective(self, key: str, protected: bool) -> str:
        if not self.separate_protected:
            return key
        return f"{key}-{'protected' if protected else 'non_protected'}"

    def restore(self, runner: str, cache: Mapping[str, Any], env: Mapping[str, str]) -> str | None:
        protected = env.get("CI_COMMIT_REF_PROTECTED") == "true"
        store = self.caches.get(runner, {})
        for key in [cache["key"], *cache.get("fallback_keys", [])]:
            found = store.get(self.effective(_expand(str(key), env), protected))
            if found is not None:
                return found
        return None


def _expand(text: str, env: Mapping[str, str]) -> str:
    return re.sub(r"\$\{?(\w+)\}?", lambda m: env.get(m.group(1), ""), text)


def file_at_start(
    config: Mapping[str, Any],
    job_name: str,
    path: str,
    runner: str,
    runners: Runners,
    env: Mapping[str, str],
    ran_on: Mapping[str, str],
) -> str | None:
    """The content of `path` when `job_name`'s script starts on `runner`: its own cache restore
    (a pulling policy) wins over the artifacts of the jobs it needs; those jobs ran on the runners
    `ran_on` names."""
    job = config[job_name]
    caches = job.get("cache") or []
    for cache in caches if isinstance(caches, list) else [caches]:
        if path in cache.get("paths", []) and cache.get("policy", "pull-push") != "push":
            found = runners.restore(runner, cache, env)
            if found is not None:
                return found
    for needed in job.get("needs", []):
        name = needed if isinstance(needed, str) else needed["job"]
        if path in ((config[name].get("artifacts") or {}).get("paths") or []):
            # The needed job's artifact holds what it started with (nothing writes it there).
            return file_at_start(config, name, path, ran_on[name], runners, env, ran_on)
    return None


# --- trigger jobs: what a child pipeline's result does to its parent ----------------------------
#
# docs.gitlab.com/ci/yaml/#triggerstrategy: "Use `trigger:strategy` to force the `trigger` job to
# wait for the downstream pipeline to complete before it is marked as success. This behavior is
# different than the default, which is for the `trigger` job to be marked as success as soon as
# the downstream pipeline is created." `depend`: "The trigger job status shows failed, success,
# or running, depending on the downstream pipeline status." (`mirror`, GitLab 18.2+, likewise.)
# gitlab-ci-local 4.73 runs the child but passes the trigger job whatever the child did.


def trigger_status(job: Mapping[str, Any], child_status: str) -> str:
    """The trigger job's status once its child pipeline ended with `child_status`."""
    if job["trigger"].get("strategy") in ("depend", "mirror"):
        return child_status
    return "success"
