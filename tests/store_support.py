"""A real S3-compatible server for the tests: moto's standalone server (`moto[server]`),
started as its own process on a loopback port and stopped at the end of the session.

It runs with IAM authentication on (INITIAL_NO_AUTH_ACTION_COUNT): the first few
calls make a user with an access key, then every request must be signed with that
key, so a wrong secret is refused the way AWS refuses it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass

import pytest


@dataclass
class S3Server:
    endpoint: str
    key: str
    secret: str
    proc: subprocess.Popen

    def env(self, **override: str) -> dict[str, str]:
        env = {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.key,
            "AWS_SECRET_ACCESS_KEY": self.secret,
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        env.update(override)
        return env

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.key,
            aws_secret_access_key=self.secret,
            region_name="us-east-1",
        )

    def objects(self, bucket: str, prefix: str = "") -> dict[str, bytes]:
        """Every object under `prefix`, key (relative to it) -> bytes."""
        s3, out = self.client(), {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for o in page.get("Contents", []):
                body = s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
                out[o["Key"][len(prefix) :].lstrip("/")] = body
        return out

    def new_bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return name


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_s3_server() -> S3Server:
    port = free_port()
    env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT="3")
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(endpoint + "/moto-api/data.json", timeout=1)  # not counted as an action
            break
        except Exception:
            assert proc.poll() is None, "moto server exited"
            time.sleep(0.05)
    import boto3

    anyone = {"aws_access_key_id": "x", "aws_secret_access_key": "x", "region_name": "us-east-1"}
    iam = boto3.client("iam", endpoint_url=endpoint, **anyone)
    iam.create_user(UserName="datagen")
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    iam.put_user_policy(UserName="datagen", PolicyName="all", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="datagen")["AccessKey"]
    return S3Server(endpoint, key["AccessKeyId"], key["SecretAccessKey"], proc)


@pytest.fixture(scope="session")
def s3_server():
    server = start_s3_server()
    yield server
    server.proc.terminate()
    server.proc.wait(timeout=10)


@pytest.fixture
def s3_env(s3_server, monkeypatch):
    """This process (and its subprocesses) talk to the test server."""
    for k, v in s3_server.env().items():
        monkeypatch.setenv(k, v)
    try:
        import s3fs

        s3fs.S3FileSystem.clear_instance_cache()
    except ImportError:
        pass
    return s3_server
