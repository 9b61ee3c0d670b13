/* SPDX-License-Identifier: MIT */
/* One entry point per subcommand, each in its own file (argv[0] is the command name). */
#ifndef AI_COMMANDS_H
#define AI_COMMANDS_H

#define AI_VERSION "0.1.0"

int cmd_trace(int argc, char **argv);	 /* trace.c */
int cmd_top(int argc, char **argv);	 /* top.c */
int cmd_tasks(int argc, char **argv);	 /* tasks.c */
int cmd_profile(int argc, char **argv);	 /* profile.c */
int cmd_record(int argc, char **argv);	 /* record.c */
int cmd_report(int argc, char **argv);	 /* report.c */
int cmd_graph(int argc, char **argv);	 /* graph.c */
int cmd_deadlock(int argc, char **argv); /* deadlock.c */
int cmd_analyze(int argc, char **argv);	 /* analyze.c */
int cmd_list(int argc, char **argv);	 /* list.c */
int cmd_diagnose(int argc, char **argv); /* diagnose.c */

#endif /* AI_COMMANDS_H */
