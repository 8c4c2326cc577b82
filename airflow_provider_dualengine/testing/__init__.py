"""`dualengine test`: the cross-engine tests of a project, for its own CI (docs/testing.md)."""
