"""S3-compatible server for Strata's tests: moto on 127.0.0.1 with request signing and credential
checks on (requests signed with unknown keys or a wrong secret are refused, as on AWS).

Run by tests/support/s3.rs with the Python of the virtual environment that
scripts/setup-test-env.sh installs. Prints one line

    READY <port> <access key id> <secret access key>

then reads commands from standard input, one per line, and answers each with one line:

    bucket NAME   creates the bucket            -> "ok" or "error <reason>"

It exits when standard input closes, i.e. when the test process that started it is gone.
"""

import json
import logging
import sys

import boto3
from moto import settings
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

REGION = "us-east-1"


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    _, port = server.get_host_and_port()
    endpoint = f"http://127.0.0.1:{port}"

    # moto lets these first requests through unauthenticated (settings default), then checks
    # every request against its IAM users once INITIAL_NO_AUTH_ACTION_COUNT is 0.
    iam = boto3.client(
        "iam",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="setup",
        aws_secret_access_key="setup",
    )
    iam.create_user(UserName="strata-test")
    iam.put_user_policy(
        UserName="strata-test",
        PolicyName="s3",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
            }
        ),
    )
    key = iam.create_access_key(UserName="strata-test")["AccessKey"]
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0

    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )
    print(f"READY {port} {key['AccessKeyId']} {key['SecretAccessKey']}", flush=True)

    for line in sys.stdin:
        words = line.split()
        try:
            if len(words) == 2 and words[0] == "bucket":
                s3.create_bucket(Bucket=words[1])
                print("ok", flush=True)
            else:
                print(f"error unknown command {line.strip()!r}", flush=True)
        except Exception as e:  # the test shows the reason
            print(f"error {e}".replace("\n", " "), flush=True)
    server.stop()


if __name__ == "__main__":
    main()
