# dn_module(NAME [DEPS module...] [LINK target...])
#   An OBJECT library dn_NAME from src/NAME/*.cpp. DEPS are other modules whose headers
#   it may include; the closure of DEPS is recorded so that tests can link exactly the
#   objects they need (object libraries do not carry their dependencies' objects).
function(dn_module name)
  cmake_parse_arguments(M "" "" "DEPS;LINK" ${ARGN})
  file(GLOB srcs CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/${name}/*.cpp)
  if(srcs)
    add_library(dn_${name} OBJECT ${srcs})
    set(scope PUBLIC)
  else()  # a layer with no code yet: usage requirements only
    add_library(dn_${name} INTERFACE)
    set(scope INTERFACE)
  endif()
  set_property(GLOBAL PROPERTY DN_HAS_OBJECTS_${name} "${srcs}")
  target_include_directories(dn_${name} ${scope}
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/src>)
  set(closure ${name})
  foreach(d IN LISTS M_DEPS)
    target_link_libraries(dn_${name} ${scope} dn_${d})
    get_property(dc GLOBAL PROPERTY DN_CLOSURE_${d})
    list(APPEND closure ${dc})
  endforeach()
  target_link_libraries(dn_${name} ${scope} ${M_LINK})
  list(REMOVE_DUPLICATES closure)
  set_property(GLOBAL PROPERTY DN_CLOSURE_${name} ${closure})
  set_property(GLOBAL APPEND PROPERTY DN_MODULES ${name})
  set_property(GLOBAL APPEND PROPERTY DN_EXTERNAL_LINKS ${M_LINK})
endfunction()

# dn_objects(OUT module...) -> generator expressions for the objects of the modules' closure.
function(dn_objects out)
  set(all)
  foreach(m IN LISTS ARGN)
    get_property(c GLOBAL PROPERTY DN_CLOSURE_${m})
    list(APPEND all ${c})
  endforeach()
  list(REMOVE_DUPLICATES all)
  set(objs)
  foreach(m IN LISTS all)
    get_property(has GLOBAL PROPERTY DN_HAS_OBJECTS_${m})
    if(has)
      list(APPEND objs $<TARGET_OBJECTS:dn_${m}>)
    endif()
  endforeach()
  set(${out} ${objs} PARENT_SCOPE)
  set(${out}_MODULES ${all} PARENT_SCOPE)
endfunction()

# dn_public_library(): libdiffnorm.a and libdiffnorm.so from every module's objects.
function(dn_public_library)
  get_property(mods GLOBAL PROPERTY DN_MODULES)
  dn_objects(objs ${mods})
  foreach(kind STATIC SHARED)
    string(TOLOWER ${kind} k)
    add_library(diffnorm_${k} ${kind} ${objs})
    set_target_properties(diffnorm_${k} PROPERTIES OUTPUT_NAME diffnorm
      VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR})
    target_include_directories(diffnorm_${k} PUBLIC
      $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
      $<INSTALL_INTERFACE:include>)
    # The third-party libraries the modules use (a static library passes them on).
    get_property(ext GLOBAL PROPERTY DN_EXTERNAL_LINKS)
    list(REMOVE_DUPLICATES ext)
    target_link_libraries(diffnorm_${k} PRIVATE ${ext})
  endforeach()
endfunction()

# dn_test(NAME MODULES m... SOURCES f... [LINK t...]): a GoogleTest executable linking the
# objects of the given modules; registered with CTest through gtest_discover_tests.
function(dn_test name)
  cmake_parse_arguments(T "" "" "MODULES;SOURCES;LINK" ${ARGN})
  dn_objects(objs ${T_MODULES})
  add_executable(${name} ${T_SOURCES} ${objs})
  foreach(m IN LISTS objs_MODULES)
    target_link_libraries(${name} PRIVATE dn_${m})
  endforeach()
  target_link_libraries(${name} PRIVATE GTest::gtest GTest::gtest_main ${T_LINK})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests)
  target_compile_definitions(${name} PRIVATE
    DN_SHARED_DIR="${DIFFNORM_SHARED_DIR}"
    DN_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    DN_BINARY_DIR="${PROJECT_BINARY_DIR}")
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 900)
endfunction()
