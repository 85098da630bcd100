"""cdk-nag 3.x helpers: every acknowledgement goes through :func:`acknowledge` with a reason.

cdk-nag 3 uses CDK's native ``Validations.of(construct).acknowledge(...)``. Findings of rules that
report several findings per resource (IAM5, IAM4) are acknowledged one by one with the
``Rule[Finding]`` id, never the whole rule, so a new wildcard added later still fails synthesis.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnElement, Stack, Validations
from constructs import IConstruct

MIN_REASON_LENGTH = 30
NAG_PLUGIN = "AwsSolutions"


def acknowledge(construct: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge one AwsSolutions finding on ``construct`` (and its children)."""
    if len(reason.strip()) < MIN_REASON_LENGTH:
        raise ValueError(f"cdk-nag acknowledgement {rule_id} needs a real justification, got {reason!r}")
    if rule_id.startswith("AwsSolutions-"):
        rule_id = f"{NAG_PLUGIN}::{rule_id}"  # the id the AwsSolutions report asks for
    Validations.of(construct).acknowledge(Acknowledgment(id=rule_id, reason=reason))


def iam5_resource(resource: str) -> str:
    """Finding id of an IAM5 wildcard-resource finding, e.g. ``AwsSolutions-IAM5[Resource::*]``."""
    return f"AwsSolutions-IAM5[Resource::{resource}]"


def iam5_action(action: str) -> str:
    return f"AwsSolutions-IAM5[Action::{action}]"


LAMBDA_BASIC_EXECUTION = (
    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]"
)


def logical_id_of(construct: IConstruct) -> str:
    """Logical id of an L1, or of an L2's default child (resolved at construction time)."""
    cfn = construct if isinstance(construct, CfnElement) else construct.node.default_child
    stack = Stack.of(construct)
    return stack.resolve(stack.get_logical_id(cfn))


def arn_of(construct: IConstruct) -> str:
    """How cdk-nag prints ``Fn::GetAtt [X, Arn]`` in a finding id: ``<X.Arn>``."""
    return f"<{logical_id_of(construct)}.Arn>"
