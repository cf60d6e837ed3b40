# Shared by scripts/run.sh and scripts/cluster.sh: the service's build and the keys of a Development database.

demo_key=${Demo__ApiKey:-oc_demo_key_for_local_use_only}
admin_key=${Admin__ApiKey:-oc_admin_dev_only_change_me}

# The folder `build_service` builds into; run `dotnet OrderCancel.Api.dll` from it (its appsettings*.json are there).
service_bin=src/OrderCancel.Api/bin/Release/net10.0

# build_service: a Release build of src/OrderCancel.Api, silent unless it fails.
build_service() {
  echo "Building..."
  local log
  log=$(mktemp)
  if ! dotnet build src/OrderCancel.Api -c Release -nologo -v quiet -clp:ErrorsOnly >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    return 1
  fi
  rm -f "$log"
}
