"""Tencent Hunyuan (native API, TC3-HMAC-SHA256)."""
