"""earmark's bridge to the `audible` library (0.13) and audible-cli's config, for what
audible-cli has no non-interactive command for: a two-step web login, profile management,
and importing an auth file.

Run by earmark with the audible-cli venv's Python, an argument vector, and secrets (login
codes, PKCE verifier, passwords, auth-file contents) as one JSON document on stdin, never as
arguments. Answers one JSON document on stdout; on failure, `error: <message>` on stderr and
exit status 1 (2 for bad input).

Commands (all take --config-dir, audible-cli's AUDIBLE_CONFIG_DIR):
  login-url  --country-code CC [--with-username]
  register   --profile P --country-code CC [--with-username] [--primary]
             stdin {"code_verifier", "serial", "response"}  (response: the maplanding URL or
             the bare openid.oa2.authorization_code)
  import     --profile P --country-code CC [--primary]
             stdin {"auth_file": "<file contents>", "password": null | "..."}
  primary    --profile P
  remove     --profile P
"""

import argparse
import json
import os
import pathlib
import re
import sys
import tempfile

import audible
import httpx
from audible.localization import Locale
from audible.login import build_oauth_url, create_code_verifier, extract_code_from_url
from audible.register import register
from audible_cli.config import ConfigFile

PROFILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class Refused(Exception):
    """Input earmark should have rejected, or a state the user must fix (exit 2)."""


class NoProfile(Refused):
    """The profile named does not exist (exit 3)."""


class ProfileExists(Refused):
    """The profile to create exists already (exit 4)."""


def fail(message, status=1):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(status)


def config(config_dir):
    path = pathlib.Path(config_dir) / "config.toml"
    return ConfigFile(path, file_exists=path.is_file())


def write_config(cfg):
    """audible-cli's own writer, into a temporary file renamed over the config."""
    target = pathlib.Path(cfg.filename)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".config.toml.")
    os.close(fd)
    try:
        cfg.write_config(tmp)
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def save_auth(auth, path):
    """The auth file, unencrypted, mode 0600 from its first byte, renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    try:
        os.chmod(tmp, 0o600)
        auth.to_file(tmp, encryption=False, set_default=False)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def add_profile(config_dir, name, auth, country_code, primary):
    cfg = config(config_dir)
    if cfg.has_profile(name):
        raise ProfileExists(f"profile {name} already exists: remove it first")
    auth_file = f"{name}.json"
    save_auth(auth, pathlib.Path(config_dir) / auth_file)
    first = not cfg.data.get("profile")
    cfg.add_profile(name, auth_file, country_code, is_primary=primary or first, write_config=False)
    write_config(cfg)
    return describe(config_dir, name, cfg)


def describe(config_dir, name, cfg):
    profile = cfg.get_profile(name)
    auth_path = pathlib.Path(config_dir) / profile.get("auth_file", "")
    device_name, cached, present = None, False, auth_path.is_file()
    if present:
        try:
            data = json.loads(auth_path.read_text())
            device_name = (data.get("device_info") or {}).get("device_name")
            cached = bool(data.get("activation_bytes"))
        except (OSError, ValueError):
            pass  # encrypted or unreadable: present, details unknown
    return {
        "name": name,
        "country_code": profile.get("country_code"),
        "auth_file": profile.get("auth_file"),
        "auth_file_present": present,
        "device_name": device_name,
        "activation_bytes_cached": cached,
        "primary": cfg.app_config.get("primary_profile") == name,
    }


def read_stdin():
    try:
        return json.loads(sys.stdin.read() or "{}")
    except ValueError as e:
        raise Refused(f"stdin is not JSON: {e}") from None


def cmd_login_url(args):
    locale = Locale(args.country_code)
    verifier = create_code_verifier()
    url, serial = build_oauth_url(
        country_code=locale.country_code,
        domain=locale.domain,
        market_place_id=locale.market_place_id,
        code_verifier=verifier,
        with_username=args.with_username,
    )
    return {"login_url": url, "code_verifier": verifier.decode(), "serial": serial}


def cmd_register(args):
    secrets = read_stdin()
    response = (secrets.get("response") or "").strip()
    if not response:
        raise Refused("no redirect URL or authorization code")
    if "openid.oa2.authorization_code" in response:
        try:
            code = extract_code_from_url(httpx.URL(response))
        except (KeyError, IndexError, ValueError):
            raise Refused("the URL carries no openid.oa2.authorization_code") from None
    elif response.startswith("http"):
        raise Refused(
            "the URL carries no openid.oa2.authorization_code: paste the address of the page "
            "Amazon shows after login (it contains /ap/maplanding)"
        )
    else:
        code = response
    locale = Locale(args.country_code)
    try:
        data = register(
            authorization_code=code,
            code_verifier=secrets["code_verifier"].encode(),
            domain=locale.domain,
            serial=secrets["serial"],
            with_username=args.with_username,
        )
    except Exception as e:  # register raises a bare Exception with Amazon's answer
        fail(f"Amazon refused the device registration: {e}")
    data["locale_code"] = locale.country_code
    data["with_username"] = args.with_username
    auth = audible.Authenticator.from_dict(data)
    return add_profile(args.config_dir, args.profile, auth, locale.country_code, args.primary)


def cmd_import(args):
    secrets = read_stdin()
    contents = secrets.get("auth_file") or ""
    fd, tmp = tempfile.mkstemp(dir=args.config_dir, prefix=".import.")
    try:
        os.chmod(tmp, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(contents)
        try:
            auth = audible.Authenticator.from_file(
                tmp, password=secrets.get("password"), locale=args.country_code
            )
        except Exception as e:
            raise Refused(
                f"not a usable audible auth file ({type(e).__name__}); if it is encrypted, "
                "send its password"
            ) from None
    finally:
        os.unlink(tmp)
    return add_profile(args.config_dir, args.profile, auth, args.country_code, args.primary)


def cmd_primary(args):
    cfg = config(args.config_dir)
    if not cfg.has_profile(args.profile):
        raise NoProfile(f"no Audible profile {args.profile}")
    cfg.data["APP"]["primary_profile"] = args.profile
    write_config(cfg)
    return describe(args.config_dir, args.profile, cfg)


def cmd_remove(args):
    cfg = config(args.config_dir)
    if not cfg.has_profile(args.profile):
        raise NoProfile(f"no Audible profile {args.profile}")
    auth_file = cfg.get_profile(args.profile).get("auth_file")
    cfg.delete_profile(args.profile, write_config=False)
    if cfg.app_config.get("primary_profile") == args.profile:
        rest = sorted(cfg.data.get("profile", {}))
        cfg.data["APP"]["primary_profile"] = rest[0] if rest else ""
    write_config(cfg)
    if auth_file:
        path = pathlib.Path(args.config_dir) / auth_file
        if path.is_file():
            path.unlink()
    return {"removed": args.profile}


def main():
    os.umask(0o077)
    parser = argparse.ArgumentParser(prog="earmark_audible_helper")
    parser.add_argument("command", choices=["login-url", "register", "import", "primary", "remove"])
    parser.add_argument("--config-dir", required=True)
    parser.add_argument("--profile")
    parser.add_argument("--country-code")
    parser.add_argument("--with-username", action="store_true")
    parser.add_argument("--primary", action="store_true")
    args = parser.parse_args()
    if args.profile is not None and not PROFILE_NAME.match(args.profile):
        fail(f"profile name {args.profile!r}: letters, digits, '-', '_' and '.'", 2)
    needs_profile = args.command in ("register", "import", "primary", "remove")
    if needs_profile and not args.profile:
        fail("--profile is required", 2)
    if args.command in ("login-url", "register", "import") and not args.country_code:
        fail("--country-code is required", 2)
    pathlib.Path(args.config_dir).mkdir(parents=True, exist_ok=True)
    handler = {
        "login-url": cmd_login_url,
        "register": cmd_register,
        "import": cmd_import,
        "primary": cmd_primary,
        "remove": cmd_remove,
    }[args.command]
    try:
        result = handler(args)
    except NoProfile as e:
        fail(str(e), 3)
    except ProfileExists as e:
        fail(str(e), 4)
    except Refused as e:
        fail(str(e), 2)
    except Exception as e:  # anything else: say what, never dump secrets
        fail(f"{type(e).__name__}: {e}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
