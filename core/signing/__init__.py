"""Request signers shared by providers: pure functions of their inputs, no clock reads."""
