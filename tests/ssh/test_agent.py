"""The ssh-agent client against OpenSSH's ssh-agent and ssh-add: listing, signing with every
key type (RSA with the SHA-2 flags), adding and removing keys and certificates, authenticating
to sshd through the agent, and agents that misbehave."""

import asyncio
import os

import pytest

import M2Sec.SSH as SSH
from M2Sec.SSH import agent as A
from M2Sec.SSH import keys
from M2Sec.SSH.errors import AuthenticationFailed

from .agent_helpers import FakeAgent, SshAgent

pytestmark = pytest.mark.timeout(60)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 50))


@pytest.fixture
def agent():
    a = SshAgent()
    try:
        yield a
    finally:
        a.stop()


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An empty HOME (no ~/.ssh/config, no identities) and no agent in the environment."""
    h = tmp_path / "home"
    (h / ".ssh").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(h))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    return h


def _line(path):
    with open(path + ".pub") as f:
        return " ".join(f.read().split()[:2])


def test_lists_what_ssh_add_added(agent, sshd):
    for name in ("ed25519", "ecdsa384", "rsa"):
        agent.add(sshd.user_keys[name])
    with A.Agent(agent.path) as blocking:
        got = blocking.get_keys()
    assert sorted(k.public_key.public_line().split(" ", 2)[1] for k in got) == \
        sorted(line.split()[1] for line in agent.listed())
    assert {k.comment for k in got} == {"user"}
    async_keys = run(_get_keys(agent.path))
    assert [k.public_blob() for k in async_keys] == [k.public_blob() for k in got]


async def _get_keys(path):
    client = await A.connect_agent(path)
    assert client is not None
    async with client:
        return await client.get_keys()


@pytest.mark.parametrize("name", ["ed25519", "ecdsa256", "ecdsa521", "rsa"])
def test_signatures_verify(agent, sshd, name):
    agent.add(sshd.user_keys[name])
    data = b"data to be signed " + name.encode()
    with A.Agent(agent.path) as blocking:
        (key,) = blocking.get_keys()
        for alg in key.sig_algorithms:
            sig = key.sign(data, alg)
            assert keys.SSHReader(sig).get_string() == alg  # the agent honoured the RSA flag
            assert keys.verify_signature(key.public_blob(), sig, data)
            assert not keys.verify_signature(key.public_blob(), sig, data + b"!")
    # the same through asyncio
    async def go():
        async with A.SSHAgentClient(agent.path) as client:
            (k,) = await client.get_keys()
            return await k.sign_async(data, k.sig_algorithms[-1]), k.public_blob()
    sig, blob = run(go())
    assert keys.verify_signature(blob, sig, data)


def test_add_remove_from_m2sec(agent, sshd, tmp_path):
    generated = [keys.generate_private_key(t, comment="m2sec-" + t) for t in
                 ("ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa")]
    ca = keys.generate_private_key("ssh-ed25519")
    cert_key = keys.generate_private_key("ssh-ed25519", comment="with-cert")
    cert = keys.create_certificate(ca, cert_key, "id", ["alice"])
    with A.Agent(agent.path) as blocking:
        blocking.add_keys(generated + [cert.with_private_key(cert_key)])
        listed = agent.listed()
        for k in generated:
            assert " ".join(k.public_line().split()[:2]) in listed
        assert any(line.startswith("ssh-ed25519-cert-v01@openssh.com ") for line in listed)
        # the agent signs with what M2Sec gave it
        by_blob = {k.public_blob(): k for k in blocking.get_keys()}
        for k in generated:
            sig = by_blob[k.public_blob()].sign(b"x")
            assert k.verify(b"x", sig)
        blocking.remove_keys([generated[0]])
        assert " ".join(generated[0].public_line().split()[:2]) not in agent.listed()
        blocking.remove_all()
        assert agent.listed() == []
        # a path with a passphrase
        path = str(tmp_path / "id_enc")
        generated[1].save_private(path, passphrase="pw")
        blocking.add_keys([path], passphrase="pw", lifetime=60)
        assert agent.listed() == [" ".join(generated[1].public_line().split()[:2])]
        with pytest.raises(ValueError):
            blocking.add_keys([generated[0].public_key()])


def test_connect_with_agent_keys_only(agent, sshd, home, monkeypatch):
    agent.add(sshd.user_keys["ecdsa256"])
    monkeypatch.setenv("SSH_AUTH_SOCK", agent.path)

    async def go(**kw):
        async with SSH.connect("127.0.0.1", sshd.port, username=sshd.user, known_hosts=sshd.known_hosts(),
                               connect_timeout=20, **kw) as conn:
            return (await conn.run("echo agent")).stdout
    assert run(go()) == b"agent\n"
    assert run(go(agent_path=agent.path)) == b"agent\n"
    with pytest.raises(AuthenticationFailed):
        run(go(agent_path=None))  # no agent, no identity files


def test_agent_certificate_authenticates(agent, sshd, home, monkeypatch):
    # the certificate alone is trusted by sshd (through its CA), not the bare key
    agent.add(sshd.cert_user_key)
    listed = agent.listed()
    assert any("-cert-v01@openssh.com" in line for line in listed)

    async def go():
        async with SSH.connect("127.0.0.1", sshd.port, username=sshd.user, known_hosts=sshd.known_hosts(),
                               agent_path=agent.path, connect_timeout=20) as conn:
            return (await conn.run("echo cert")).stdout
    assert run(go()) == b"cert\n"


def test_default_identities_after_agent(sshd, home):
    # no agent: ~/.ssh/id_ecdsa is found by default, with its certificate-less key
    src = sshd.user_keys["ecdsa256"]
    for suffix in ("", ".pub"):
        with open(src + suffix, "rb") as f, open(str(home / ".ssh" / "id_ecdsa") + suffix, "wb") as out:
            out.write(f.read())
    os.chmod(str(home / ".ssh" / "id_ecdsa"), 0o600)

    async def go():
        async with SSH.connect("127.0.0.1", sshd.port, username=sshd.user, connect_timeout=20,
                               known_hosts="~/.ssh/kh",
                               strict_host_key_checking="accept-new") as conn:
            return (await conn.run("echo default")).stdout
    assert run(go()) == b"default\n"
    assert (home / ".ssh" / "kh").read_text().startswith("[127.0.0.1]:%d " % sshd.port)


def _fake_reply(kind):
    def reply(body):
        if body[0] == A.SSH_AGENTC_REQUEST_IDENTITIES:
            if kind == "garbage-list":
                return A.frame(b"\x0c\x00\x00\x00\x05abc")
            if kind == "huge-list":
                return A.frame(b"\x0c\xff\xff\xff\xff")
            if kind == "oversized":
                return (10 * 1024 * 1024).to_bytes(4, "big")
            key = keys.load_public_key(FAKE_KEY[0] + ".pub")
            return A.frame(bytes([A.SSH_AGENT_IDENTITIES_ANSWER]) + (1).to_bytes(4, "big")
                           + keys.string(key.public_blob()) + keys.string(b"fake"))
        if body[0] == A.SSH_AGENTC_SIGN_REQUEST:
            if kind == "vanish":
                return None
            if kind == "bad-signature":
                return A.frame(bytes([A.SSH_AGENT_SIGN_RESPONSE]) + keys.string(b"\x00\x00\x00\x09garbage"))
            return A.frame(bytes([A.SSH_AGENT_FAILURE]))
        return A.frame(bytes([A.SSH_AGENT_FAILURE]))
    return reply


FAKE_KEY = [""]


@pytest.mark.parametrize("kind", ["garbage-list", "huge-list", "oversized"])
def test_malformed_agent_replies(kind):
    fake = FakeAgent(_fake_reply(kind))
    try:
        with A.Agent(fake.path, timeout=5) as blocking:
            with pytest.raises(A.AgentError):
                blocking.get_keys()

        async def go():
            client = A.SSHAgentClient(fake.path, timeout=5)
            try:
                await client.get_keys()
            finally:
                client.close()
        with pytest.raises(A.AgentError):
            run(go())
    finally:
        fake.stop()


@pytest.mark.parametrize("kind", ["vanish", "bad-signature", "refuse"])
def test_failing_agent_falls_back_to_next_key(sshd, home, kind):
    # the agent lists an authorized key but cannot sign with it: the file key is tried next
    FAKE_KEY[0] = sshd.user_keys["ed25519"]
    fake = FakeAgent(_fake_reply(kind))
    try:
        with A.Agent(fake.path, timeout=5) as blocking:
            (k,) = blocking.get_keys()
            with pytest.raises(A.AgentError):
                k.sign(b"x")
        with open(sshd.user_keys["rsa"], "rb") as f, open(str(home / ".ssh" / "id_rsa"), "wb") as out:
            out.write(f.read())

        async def go():
            async with SSH.connect("127.0.0.1", sshd.port, username=sshd.user, known_hosts=sshd.known_hosts(),
                                   agent_path=fake.path, connect_timeout=20) as conn:
                return (await conn.run("echo fallback")).stdout
        assert run(go()) == b"fallback\n"
    finally:
        fake.stop()


def test_no_agent_is_none():
    assert run(A.connect_agent("/nonexistent/agent.sock")) is None
    with pytest.raises(A.AgentError):
        A.Agent("/nonexistent/agent.sock").get_keys()
