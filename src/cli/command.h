// Subcommands register themselves here; main() builds the CLI11 app from the registry.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

namespace diffnorm::cli {

struct Command {
  std::string name;
  std::string summary;
  // Adds the subcommand's options to `sub` and returns the action to run when it is chosen.
  std::function<std::function<void()>(CLI::App& sub)> setup;
};

std::vector<Command>& command_registry();

struct RegisterCommand {
  explicit RegisterCommand(Command c) { command_registry().push_back(std::move(c)); }
};

}  // namespace diffnorm::cli
