"""The Terraform modules and environments, checked with the real Terraform and the real
AWS provider (offline, from the machine's plugin mirror): fmt, init + validate for every
module and environment, and each module's `terraform test` (variable validation and the
safety defaults, planned against a mocked AWS provider)."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess

import pytest

TERRAFORM_DIR = pathlib.Path(__file__).resolve().parent.parent
TERRAFORM = os.environ.get("TERRAFORM", shutil.which("terraform") or "/usr/local/bin/terraform")
PLUGIN_DIR = pathlib.Path(os.environ.get("TF_PLUGIN_DIR", "/opt/tf-plugins"))
MODULES = sorted(p.parent.relative_to(TERRAFORM_DIR).as_posix() for p in TERRAFORM_DIR.glob("modules/*/main.tf"))
ENVIRONMENTS = sorted(p.parent.relative_to(TERRAFORM_DIR).as_posix() for p in TERRAFORM_DIR.glob("envs/*/main.tf"))
TESTED_MODULES = sorted(p.parent.parent.relative_to(TERRAFORM_DIR).as_posix() for p in TERRAFORM_DIR.glob("modules/*/tests/*.tftest.hcl"))


def run(args, cwd):
    env = {**os.environ, "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1", "TF_CLI_CONFIG_FILE": os.devnull}
    return subprocess.run([TERRAFORM, *args], cwd=cwd, capture_output=True, text=True, env=env)


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """A copy of terraform/ so init's .terraform and lock files stay out of the work tree."""
    if not PLUGIN_DIR.is_dir():
        pytest.skip(f"!!! {PLUGIN_DIR} is missing: the AWS provider cannot be installed offline, "
                    "so init/validate/test are NOT checked on this machine (fmt still is)")
    copy = tmp_path_factory.mktemp("terraform") / "terraform"
    shutil.copytree(TERRAFORM_DIR, copy, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", "tests", "__pycache__"))
    for module in TESTED_MODULES:
        shutil.copytree(TERRAFORM_DIR / module / "tests", copy / module / "tests")
    return copy


def init(directory):
    result = run(["init", "-backend=false", "-input=false", "-no-color", f"-plugin-dir={PLUGIN_DIR}"], directory)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_file_is_formatted():
    result = run(["fmt", "-recursive", "-check", "-diff", "-no-color"], TERRAFORM_DIR)
    assert result.returncode == 0, "terraform fmt -recursive terraform/ would change:\n" + result.stdout


def test_modules_follow_the_terraform_aws_modules_layout():
    assert MODULES == ["modules/cloudwatch", "modules/eks", "modules/iam", "modules/network", "modules/rds", "modules/watchpost"]
    for module in MODULES:
        for name in ("main.tf", "variables.tf", "outputs.tf", "versions.tf"):
            assert (TERRAFORM_DIR / module / name).is_file(), f"{module}/{name}"


def test_every_variable_and_output_is_described_and_typed():
    import re

    for path in TERRAFORM_DIR.glob("**/variables.tf"):
        for block in re.split(r"\n(?=variable \")", path.read_text()):
            if block.startswith("variable"):
                assert "description" in block and "type" in block, f"{path}: {block.splitlines()[0]}"
    for path in TERRAFORM_DIR.glob("**/outputs.tf"):
        for block in re.split(r"\n(?=output \")", path.read_text()):
            if block.startswith("output"):
                assert "description" in block, f"{path}: {block.splitlines()[0]}"


def test_only_the_aws_provider_is_used():
    for path in TERRAFORM_DIR.glob("**/*.tf"):
        text = path.read_text()
        for other in ("hashicorp/helm", "hashicorp/kubernetes", "hashicorp/random", "hashicorp/tls"):
            assert other not in text, f"{path} uses {other}: install charts with Helm, not Terraform"


def test_environments_keep_state_in_s3_with_locking():
    for env in ENVIRONMENTS:
        text = (TERRAFORM_DIR / env / "versions.tf").read_text()
        assert 'backend "s3"' in text and "use_lockfile = true" in text and "encrypt      = true" in text, env
        assert (TERRAFORM_DIR / env / "terraform.tfvars.example").is_file()


# `terraform test` validates its module before planning, so modules with tests are validated there.
@pytest.mark.parametrize("directory", [d for d in MODULES if d not in TESTED_MODULES] + ENVIRONMENTS)
def test_init_and_validate(tree, directory):
    init(tree / directory)
    result = run(["validate", "-no-color"], tree / directory)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("module", TESTED_MODULES)
def test_validate_and_terraform_test(tree, module):
    init(tree / module)
    result = run(["test", "-no-color"], tree / module)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " 0 failed" in result.stdout and "Success!" in result.stdout
