"""sitter/: the pieces every part shares and none owns. It imports no other part of Sitter.

- `sitter.errors`: the one error family (bad input, consent refused, check failed) and its exit codes;
- `sitter.files`: reading a file a user named, once and bounded;
- `sitter.images`: reading an image, once, under one size and orientation policy.
"""
