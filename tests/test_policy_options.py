"""Class 4 tables: allow and deny patterns written for `git push ...`, `docker rm ...` also see
commands written with the program's global options (`git -C d push`, `docker --context x rm`)."""

from __future__ import annotations

import pytest

from policyutil import refusal
from mgexec.policy import CommandPolicy


DENIED = [
    ("git push", "git -C d push"),
    ("git push", "git -c k=v push origin main"),
    ("git push", "git --git-dir=D push"),
    ("git push", "git --git-dir D --work-tree W push origin"),
    ("git push", "git --no-pager -P push"),
    ("git push", "git --namespace=n --bare push"),
    ("git push", "git -c alias.p=push p origin"),
    ("git push", "git -c alias.p='push --force' p"),
    ("git push", "/usr/bin/git -C x push"),
    ("git push", "GIT -C x push"),
    ("git push", "env git -C x push"),
    ("git push", "bash -c 'git -C x push'"),
    ("git push", "cd x && git -C y push"),
    ("git push --force", "git -C d push --force"),
    ("docker rm( |$)", "docker --context X rm c"),
    ("docker rm( |$)", "docker -H tcp://h:2375 rm c"),
    ("docker rm( |$)", "docker --log-level debug --tls rm c"),
    ("docker rm( |$)", "docker container rm c"),
    ("docker rm( |$)", "docker --context X container rm c"),
    ("podman rm( |$)", "podman --remote --connection x rm c"),
    ("docker rmi", "docker image rm img"),
    ("docker compose down", "docker compose -f x.yml -p n down"),
    ("docker compose down", "docker --context x compose --project-directory d down"),
    ("docker-compose down", "docker-compose -p x down"),
    ("kubectl delete", "kubectl -n NS delete pod x"),
    ("kubectl delete", "kubectl --context prod -n x delete ns y"),
    ("kubectl delete", "kubectl --kubeconfig=k delete pod x"),
    ("kubectl delete pod", "kubectl delete -n NS pod x"),
    ("kubectl delete", "kubectl -nNS delete pod x"),
    ("docker rm( |$)", "docker container remove c"),
    ("helm uninstall", "helm -n x --kube-context c uninstall y"),
    ("npm publish", "npm --prefix D publish"),
    ("npm publish", "npm -C D publish"),
    ("pnpm publish", "pnpm --filter x publish"),
    ("yarn publish", "yarn --cwd d publish"),
    ("make deploy", "make -C D deploy"),
    ("make deploy", "make -j 4 deploy"),
    ("make deploy", "make -j4 -Cd deploy"),
    ("make deploy", "make -C d V=1 deploy"),
    ("make deploy", "make -f x.mk --no-print-directory deploy"),
    ("terraform destroy", "terraform -chdir=infra destroy"),
    ("tofu destroy", "tofu -chdir=infra destroy"),
    ("pip install", "python -m pip install x"),
    ("pip install", "python3.12 -m pip --isolated install x"),
    ("pip install", "pip --no-cache-dir -q install x"),
    ("cargo publish", "cargo +nightly publish"),
    ("cargo publish", "cargo --locked -Z unstable-options publish"),
    ("aws s3 rm", "aws --profile p --region eu-west-1 s3 rm s3://b"),
    ("gcloud projects delete", "gcloud --project p projects delete x"),
    # clustered and attached short options, `--flag=value`, long-option abbreviations
    ("make deploy", "make -kj4 deploy"),
    ("make deploy", "make -sC d deploy"),
    ("make deploy", "make --dir=d deploy"),
    ("make deploy", "make --direc d deploy"),
    ("make deploy", "make -n deploy"),
    ("make deploy", "make --output-sync=target deploy"),
    ("docker rm( |$)", "docker -Htcp://x rm c"),
    ("docker rm( |$)", "docker -cX rm c"),
    ("docker rm( |$)", "docker -Dc X rm c"),
    ("docker rm( |$)", "docker --debug=true rm c"),
    ("kubectl delete", "kubectl --insecure-skip-tls-verify=true delete pod x"),
    ("kubectl delete", "kubectl --log-file=x delete pod x"),
    ("helm uninstall", "helm -nx uninstall y"),
    ("cargo publish", "cargo -Zunstable-options publish"),
    ("pip install", "pip -qv install x"),
    ("git push", "git --exec-path=/usr/lib/git-core push"),
    # npm reads any `--name[=value]` as config
    ("npm publish", "npm --tag=beta publish"),
    ("npm publish", "npm --otp 123 publish"),
    ("npm publish", "npm --foo publish"),
    # aliases that name the same subcommand
    ("git push", "git -c alias.a=b -c alias.b=push a"),
    ("git push", "git -c alias.p='--no-pager push' p"),
    ("git push", "git -c alias.push=status push"),  # git ignores aliases of its own commands
    ("cargo publish", "cargo --config 'alias.x=\"publish\"' x"),
    ("npm publish", "npm pub"),
    ("npm uninstall", "npm rm x"),
    ("npm install", "npm i x"),
    ("helm uninstall", "helm delete y"),
    ("docker volume rm", "docker volume remove v"),
    ("docker ps", "docker container ls"),
    ("docker cp", "docker container cp a c:/b"),
    ("gcloud projects delete", "gcloud beta projects delete x"),
    ("pip install", "python -mpip install x"),
    ("pip install", "python -Im pip install x"),
    ("pip install", "python -W ignore -m pip install x"),
    ("pip install", "pip3.12 install x"),
    # what bash expands before it runs the command
    ("git push", "{git,push}"),
    ("git push", "git${IFS}push"),
    ("git push", "/usr/bin/g?t push"),
    ("git push", "$(echo git) push"),
    ("rm .*", "/bin/r? x"),    ("docker-compose down", "docker-compose --verbose -f x.yml down"),
    ("nerdctl compose down", "nerdctl compose -p x down"),
]


@pytest.mark.parametrize("pattern, line", DENIED)
def test_deny_patterns_see_through_global_options(pattern: str, line: str) -> None:
    message = refusal(line, CommandPolicy(deny_patterns=(pattern,)))
    assert message is not None and message.startswith("Command blocked by the deny list"), message


@pytest.mark.parametrize("pattern, line", DENIED)
def test_deny_patterns_still_match_the_plain_form(pattern: str, line: str) -> None:
    plain = pattern.replace("( |$)", "") + " x"
    assert refusal(plain, CommandPolicy(deny_patterns=(pattern,))) is not None


# Near misses: an option's value that looks like the subcommand, or another subcommand.
DENY_PASSES = [
    ("git push", "git -C d status"),
    ("git push", "git -C push status"),
    ("git push", "git -c push.default=current commit -m x"),
    ("git push", "git -c alias.p='!echo push' p"),
    ("git push", "git log --grep push"),
    ("git push", "echo git -C d push"),
    ("git push", "git commit -m 'git -C d push'"),
    ("docker rm( |$)", "docker --context X ps"),
    ("docker rm( |$)", "docker --context rm ps"),
    ("docker rm( |$)", "docker --context X rmi img"),
    ("docker rm( |$)", "docker container ls"),
    ("kubectl delete", "kubectl -n NS get pods"),
    ("kubectl delete", "kubectl -n delete get pods"),
    ("kubectl delete", "kubectl --context x describe pod y"),
    ("npm publish", "npm --prefix D install"),
    ("npm publish", "npm --prefix publish install"),
    ("make deploy", "make -C deploy test"),
    ("make deploy", "make -j4 test"),
    ("make deploy", "make test DEPLOY=1"),
    ("terraform destroy", "terraform -chdir=destroy plan"),
    ("pip install", "python -m pip list"),
    ("pip install", "python -m pipx install x"),
    ("helm uninstall", "helm -n uninstall list"),
    ("aws s3 rm", "aws --profile rm s3 ls"),
    ("make deploy", "make -kC deploy test"),
    ("docker rm( |$)", "docker -Hrm ps"),
    ("npm publish", "npm --tag publish install"),
    ("npm publish", "npm pack"),
    ("pip install", "python -c 'import pip' install"),
]


@pytest.mark.parametrize("pattern, line", DENY_PASSES)
def test_deny_near_misses_pass(pattern: str, line: str) -> None:
    assert refusal(line, CommandPolicy(deny_patterns=(pattern,))) is None


ALLOW_CASES = [
    # either form matching allows: as written, or with global options removed
    (["git (status|log|diff)( .*)?"], "git -C sub status", True),
    (["git (status|log|diff)( .*)?"], "git -c color.ui=always log --oneline", True),
    (["git (status|log|diff)( .*)?"], "git --no-pager diff", True),
    (["git (status|log|diff)( .*)?"], "git --git-dir=.git --work-tree=. status", True),
    (["git (status|log|diff)( .*)?"], "git -c alias.st=status st", True),
    (["git (status|log|diff)( .*)?"], "git status", True),
    (["git -C sub push"], "git -C sub push", True),
    (["git (status|log|diff)( .*)?"], "git -C sub push", False),
    (["git (status|log|diff)( .*)?"], "git -C status push", False),
    (["git (status|log|diff)( .*)?"], "git -c core.pager='rm x' log", False),
    (["git (status|log|diff)( .*)?"], "git --frobnicate status", False),
    (["kubectl get .*"], "kubectl -n x get pods", True),
    (["kubectl get .*"], "kubectl --context c get pods -n x", True),
    (["kubectl get .*"], "kubectl -n x delete pod y", False),
    (["docker (ps|logs)( .*)?"], "docker --context remote ps -a", True),
    (["docker (ps|logs)( .*)?"], "docker --context remote rm c", False),
    (["make( test)?"], "make -C sub test", True),
    (["make( test)?"], "make -j4", True),
    (["make( test)?"], "make -C sub deploy", False),
    (["make( test)?"], "make SHELL=/bin/sh test", False),
    (["make( test)?"], "make test CC='rm -rf x'", False),  # settings reach every recipe
    (["make( test)?"], "make -C sub -j4 test", True),
    (["pip install .*"], "python -m pip install x", True),
    (["pip install .*"], "python -m pip uninstall x", False),
    (["npm (install|test)( .*)?"], "npm --prefix web test", True),
    (["npm (install|test)( .*)?"], "npm --prefix web publish", False),
    (["terraform plan( .*)?"], "terraform -chdir=infra plan", True),
    (["terraform plan( .*)?"], "terraform -chdir=infra apply", False),
    (["make( test)?"], "make -kj4 test", True),
    (["make( test)?"], "make -kj4 deploy", False),
    (["docker (ps|logs)( .*)?"], "docker -Htcp://x ps", True),
    (["docker (ps|logs)( .*)?"], "docker -Htcp://x rm c", False),
    (["git (status|log|diff)( .*)?"], "git -c alias.a=b -c alias.b=push a", False),
    (["git (status|log|diff)( .*)?"], "git -c alias.log=push push", False),
    # an option the table does not know may take a value: the allow list reads no subcommand
    (["npm (install|test)( .*)?"], "npm --foo test publish", False),
    (["npm (install|test)( .*)?"], "npm i x", True),
    (["pip install .*"], "python -mpip install x", True),
    (["pip install .*"], "python -mpip uninstall x", False),
    (["git (status|log|diff)( .*)?"], "{git,status}", True),
    (["git (status|log|diff)( .*)?"], "{git,push}", False),
    (["git (status|log|diff)( .*)?", "echo .*"], "echo {git,push}", True),
    (["git (status|log|diff)( .*)?"], "/usr/bin/g?t status", False),
]


@pytest.mark.parametrize("patterns, line, allowed", ALLOW_CASES)
def test_allow_patterns_see_through_global_options(patterns: list[str], line: str,
                                                   allowed: bool) -> None:
    message = refusal(line, CommandPolicy(allow_patterns=tuple(patterns)))
    assert (message is None) == allowed, message


@pytest.mark.parametrize("pattern, line", [
    ("rm .*", "RM x"), ("rm .*", "Rm -r x"), ("rm .*", "/BIN/RM x"), ("curl", "CURL -s x"),
    ("git push", "Git push"),
])
def test_deny_compares_command_names_case_insensitively(pattern: str, line: str) -> None:
    assert refusal(line, CommandPolicy(deny_patterns=(pattern,))) is not None


def test_deny_message_shows_the_canonical_form() -> None:
    message = refusal("git -C d push origin", CommandPolicy(deny_patterns=("git push",)))
    assert message == (
        "Command blocked by the deny list: the command `git -C d push origin` matches the deny "
        "pattern `git push` once its global options are removed (`git push origin`) (deny "
        "patterns match the start of each command on the line). mgexec did not run the command "
        "line.")
