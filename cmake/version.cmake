# Writes OUT from IN with SR_GIT_VERSION = `git describe --always --dirty`
# run in SRC, or FALLBACK (the project version) when SRC is not a git
# checkout or git is missing. Run at configure time and on every build
# (the sr_version target): configure_file leaves OUT untouched when its text
# is unchanged, so only a new HEAD, or a switch between a clean and a dirty
# tree, recompiles what includes it.
set(SR_GIT_VERSION "${FALLBACK}")
if(GIT AND EXISTS "${GIT}")
  execute_process(COMMAND "${GIT}" describe --always --dirty
                  WORKING_DIRECTORY "${SRC}"
                  OUTPUT_VARIABLE described
                  RESULT_VARIABLE rc
                  OUTPUT_STRIP_TRAILING_WHITESPACE
                  ERROR_QUIET)
  if(rc EQUAL 0 AND described MATCHES "^[A-Za-z0-9._+-]+$")
    set(SR_GIT_VERSION "${described}")
  endif()
endif()
configure_file("${IN}" "${OUT}" @ONLY)
