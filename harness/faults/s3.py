"""A bucket's public access block removed (003 §7 "S3 block public access"; 003 §9 "Security breach").

DeletePublicAccessBlock, as a mistaken Terraform change or console click does; the undo puts the exact
configuration back (all four flags, 003 §7). Detected by ``s3-public-access-block``.
"""

from __future__ import annotations

from harness import aws
from harness.actions.guards import Authority
from harness.faults.base import Fault, FaultRefused, guard
from harness.targets.base import TargetLike


def public_access_removed(target: TargetLike, bucket: str, authority: Authority) -> Fault:
    """Delete ``bucket``'s public access block; the undo restores the configuration it had."""
    guard(target, authority)
    if bucket not in {b.name for b in target.env.buckets}:
        raise FaultRefused(f"{bucket!r} is not a bucket of {target.env.inventory}/{target.env.name}")
    s3 = target.client("s3")
    got = aws.get_or_none(s3.get_public_access_block, "NoSuchPublicAccessBlockConfiguration", Bucket=bucket)
    config = (got or {}).get("PublicAccessBlockConfiguration")
    now = target.clock.now()
    s3.delete_public_access_block(Bucket=bucket)

    def undo() -> list[str]:
        if config is None:
            return [f"s3://{bucket}: had no public access block; none restored"]
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=config)
        return [f"s3://{bucket}: public access block restored ({', '.join(k for k, v in config.items() if v)})"]

    return Fault(
        "public-access-removed",
        f"s3://{bucket}",
        "003 §7 S3 block public access; 003 §9 security breach",
        before={"public_access_block": config},
        after={"public_access_block": None},
        injected_at=now,
        undo=undo,
        detected_by=("s3-public-access-block",),
    )
