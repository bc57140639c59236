"""Checks the AWS stand-in with boto3: requests boto3 signs are taken,
its answers parse, pages and filters work, a wrong secret is refused, and
STS's temporary credentials work for EC2. Prints one JSON object.

Usage: ec2_check.py ENDPOINT ACCESS_KEY SECRET ROLE_ARN EXTERNAL_ID
"""

import json
import sys

import boto3
import botocore.exceptions


def main() -> None:
    endpoint, ak, sk, role, ext = sys.argv[1:6]
    session = boto3.session.Session(aws_access_key_id=ak, aws_secret_access_key=sk, region_name="us-east-1")
    ec2 = session.client("ec2", endpoint_url=endpoint)
    out = {}
    pages = ec2.get_paginator("describe_instances").paginate(
        Filters=[{"Name": "instance-state-name", "Values": ["running"]}]
    )
    ids, n_pages = [], 0
    for page in pages:
        n_pages += 1
        for r in page["Reservations"]:
            for i in r["Instances"]:
                ids.append(i["InstanceId"])
                if i["InstanceId"] == "i-0tagged":
                    out["tagged"] = {
                        "tags": {t["Key"]: t["Value"] for t in i.get("Tags", [])},
                        "private_ip": i.get("PrivateIpAddress"),
                        "az": i["Placement"]["AvailabilityZone"],
                        "state": i["State"]["Name"],
                    }
    out["running"] = sorted(ids)
    out["pages"] = n_pages
    zones = ec2.describe_availability_zones()["AvailabilityZones"]
    out["zones"] = {z["ZoneName"]: z["ZoneId"] for z in zones}
    bad = boto3.session.Session(aws_access_key_id=ak, aws_secret_access_key="wrong", region_name="us-east-1")
    try:
        bad.client("ec2", endpoint_url=endpoint).describe_instances()
        out["wrong_secret"] = None
    except botocore.exceptions.ClientError as e:
        out["wrong_secret"] = e.response["Error"]["Code"]
    sts = session.client("sts", endpoint_url=endpoint)
    creds = sts.assume_role(RoleArn=role, RoleSessionName="check", ExternalId=ext)["Credentials"]
    temp = boto3.session.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name="us-east-1",
    )
    out["assumed"] = len(temp.client("ec2", endpoint_url=endpoint).describe_instances()["Reservations"])
    print(json.dumps(out))


if __name__ == "__main__":
    main()
