"""instructor (its own venv, .venv-instructor: see integration/requirements-instructor.txt)
against the gateway: structured output with a Pydantic model through chat completions, in
instructor's default TOOLS mode. Run by integration/test_clients.py:
`.venv-instructor/bin/python instructor_chat.py <gateway url> <tag>`; prints one JSON
object: the validated model and the versions used."""

import json
import sys
from importlib.metadata import version

import instructor
from openai import OpenAI
from pydantic import BaseModel


class UserInfo(BaseModel):
    name: str
    age: int


base_url, tag = sys.argv[1:3]
client = instructor.from_openai(OpenAI(
    base_url=f"{base_url}/v1", api_key="sk-demo-pro", max_retries=0, timeout=30,
    default_query={"tag": tag},
    # The mock answers the tool call instructor forces, with these arguments.
    default_headers={"x-mock-tool-call": "UserInfo",
                     "x-mock-tool-args": json.dumps({"name": "Jason", "age": 25})},
))
user, completion = client.chat.completions.create_with_completion(
    model="gpt-4o", response_model=UserInfo, max_retries=0,
    messages=[{"role": "user", "content": "Jason is 25 years old."}],
)
print(json.dumps({
    "user": user.model_dump(),
    "usage": completion.usage.model_dump() if completion.usage else None,
    "instructor": version("instructor"),
    "openai": version("openai"),
    "jiter": version("jiter"),
}))
