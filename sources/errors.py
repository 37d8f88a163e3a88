"""The one exception a parser raises for a malformed record."""


class RejectRecord(Exception):
    """A malformed record; `reason` is a REJECT_* reason from schemas.reasons."""

    def __init__(self, reason: str, detail: str, raw: bytes = b""):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.raw = raw  # what the rejects shard shows of it, when the raising code holds it

    def __reduce__(self):  # picklable across Beam workers
        return (RejectRecord, (self.reason, self.detail, self.raw))
