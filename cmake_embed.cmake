# Embeds configs/*.yaml into the binary: a generated C++ file defining
# rlforge::EmbeddedPresets(), name (file stem) -> YAML text.
file(GLOB PRESET_FILES "${SRC_DIR}/configs/*.yaml")
set(BODY "")
foreach(f ${PRESET_FILES})
  get_filename_component(name ${f} NAME_WE)
  file(READ ${f} text)
  string(APPEND BODY "    {\"${name}\", R\"RLFPRESET(${text})RLFPRESET\"},\n")
endforeach()
file(WRITE ${OUT_FILE}.tmp "// Generated from configs/*.yaml by cmake_embed.cmake; do not edit.\n#include <map>\n#include <string>\nnamespace rlforge {\nconst std::map<std::string, std::string>& EmbeddedPresets() {\n  static const std::map<std::string, std::string> presets = {\n${BODY}  };\n  return presets;\n}\n}  // namespace rlforge\n")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different ${OUT_FILE}.tmp ${OUT_FILE})
