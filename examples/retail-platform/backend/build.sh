#!/bin/sh
# Stand-in for `mvn clean package`: assembles the static site the container serves into target/www.
# The health state comes from the HEALTH file (UP or DOWN) so a test can make a version unhealthy.
set -eu
cd "$(dirname "$0")"
health=$(tr -d ' \n' < HEALTH)
rm -rf target && mkdir -p target/www/api/v1 target/www/actuator/health
# /actuator/health is also the parent of the dependency checks: busybox httpd serves its index.html.
printf '{"status":"UP"}\n' > target/www/actuator/health/index.html
for dep in mongo redis elasticsearch; do
  printf '{"status":"UP"}\n' > "target/www/actuator/health/$dep"
done
if [ "$health" = "UP" ]; then
  # Only a healthy build has the health endpoint: a DOWN build answers it with 404 and {"status":"DOWN"}.
  printf '{"status":"UP"}\n' > target/www/api/v1/health
fi
printf '<html><body>retail-backend stand-in</body></html>\n' > target/www/index.html
