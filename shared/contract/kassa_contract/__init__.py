"""kassa_contract: the wire types every Kassa service and the SDK share (msgspec only)."""
