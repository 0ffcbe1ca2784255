"""iFlytek Spark over WebSocket."""
