#!/bin/sh
# dtf: junit=report.xml
# A test that writes its own JUnit report: dtf reports each of its test cases.
cat > "$DTF_WORK_DIR/report.xml" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="inventory" tests="3" failures="0" skipped="1">
  <testcase classname="inventory.Add" name="test_add_item" time="0.012"/>
  <testcase classname="inventory.Add" name="test_add_duplicate" time="0.004"/>
  <testcase classname="inventory.Remove" name="test_remove_missing" time="0.000">
    <skipped message="needs a database"/>
  </testcase>
</testsuite>
XML
echo "report written"
