"""The bodies of the ``train``, ``evaluate`` and ``check`` commands: they wire data, training,
decoding and evaluation together, so that none of those packages needs to import another."""
