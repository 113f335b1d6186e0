# Copies a Python script with its first line set to the chosen interpreter.
file(READ ${IN} body)
string(REGEX REPLACE "^#![^\n]*\n" "" body "${body}")
file(WRITE ${OUT} "#!${PY}\n${body}")
file(CHMOD ${OUT} PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE
     GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
