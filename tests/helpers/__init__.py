"""Helpers the tests share: loopback servers (``servers``) and a served test corpus (``corpus_server``)."""
