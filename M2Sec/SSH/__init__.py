"""SSH2 on M2Sec's own OpenSSL bindings: wire encoding (packet), keys and known_hosts (keys,
knownhosts), errors."""
