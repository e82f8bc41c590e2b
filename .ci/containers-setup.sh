#!/usr/bin/env bash
# Prepares this machine for the containers test (LlmWorkflow.Tests/Containers): podman and friends from Debian,
# and an offline stand-in for mcr.microsoft.com/dotnet/aspnet:10.0 in podman's local storage, built with
# mmdebstrap from the configured Debian mirror plus this machine's own .NET runtime (no Docker Hub / MCR access).
# Idempotent: packages and the image are only made when missing. The test pushes the image into a docker-registry
# it starts itself, so nothing here stays running.
set -euo pipefail

base_image="localhost/dotnet/aspnet:10.0"
dotnet_root="$(dirname "$(readlink -f "$(command -v dotnet)")")"

packages=(podman buildah skopeo docker-registry mmdebstrap runc uidmap)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" > /dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
fi

if podman image exists "$base_image"; then
  echo "$base_image is present"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Debian minbase plus what .NET needs at run time (TLS to Postgres/Redis, time zones); the runtime folders (no SDK)
# go where the official image has them, and the non-root "app" user has the official image's uid.
mmdebstrap --variant=minbase --include=ca-certificates,libssl3,tzdata,libicu72 \
  --customize-hook="mkdir -p \"\$1/usr/share/dotnet\" && cp -a '$dotnet_root/dotnet' '$dotnet_root/host' '$dotnet_root/shared' \"\$1/usr/share/dotnet/\" && ln -sf /usr/share/dotnet/dotnet \"\$1/usr/bin/dotnet\"" \
  --customize-hook='chroot "$1" groupadd --gid 1654 app && chroot "$1" useradd --uid 1654 --gid 1654 --create-home app' \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
  bookworm "$work/rootfs.tar"

aspnet_version=$(ls "$dotnet_root/shared/Microsoft.AspNetCore.App" | sort -V | tail -n 1)
runtime_version=$(ls "$dotnet_root/shared/Microsoft.NETCore.App" | sort -V | tail -n 1)
# The same environment the official image declares, so the SDK's container defaults (APP_UID, port 8080) apply.
podman import \
  --change "ENV APP_UID=1654" \
  --change "ENV ASPNETCORE_HTTP_PORTS=8080" \
  --change "ENV DOTNET_RUNNING_IN_CONTAINER=true" \
  --change "ENV DOTNET_VERSION=$runtime_version" \
  --change "ENV ASPNET_VERSION=$aspnet_version" \
  --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
  "$work/rootfs.tar" "$base_image"
echo "built $base_image (ASP.NET Core $aspnet_version)"
