/* SPDX-License-Identifier: MIT */
/* PLACEHOLDER: replaced by the profile subcommand's implementation. */
#include "commands.h"
#include "common.h"

int cmd_profile(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	ai_errorf("'profile' is not built yet");
	return AI_EXIT_FAIL;
}
