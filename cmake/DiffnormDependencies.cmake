# Every dependency comes from Debian packages (scripts/setup installs them).
find_package(OpenMP REQUIRED)
find_package(fmt REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(PNG REQUIRED)
find_package(JPEG REQUIRED)
find_package(CLI11 REQUIRED)
find_package(dnnl REQUIRED)
find_package(hwy REQUIRED)

# The fixtures and reference data live beside the repository (../shared), never inside it.
set(DIFFNORM_SHARED_DIR "${PROJECT_SOURCE_DIR}/../shared" CACHE PATH
    "Folder holding fixtures/, configs/ and reference/")
