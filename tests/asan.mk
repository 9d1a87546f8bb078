# Copyright (c) 2026 The ovs-ssh-tap authors.  Apache License 2.0.
#
# tests/ovs-vswitchd-ssh-tap-asan: ovs-vswitchd-ssh-tap with our own sources
# (plugin/*.c) built with AddressSanitizer.  OVS's objects and libraries are
# linked as they are; linking with -fsanitize=address still puts ASan's
# malloc under all of them, so LeakSanitizer sees every allocation, and
# ASan's interceptors check OVS's calls to memcpy, free and the like.
#
# A make fragment, read together with the build tree's Makefile (it uses its
# variables):
#
#     make -f Makefile -f tests/asan.mk tests/ovs-vswitchd-ssh-tap-asan
#
# or included from Makefile.am ("include tests/asan.mk").  tests/asan-check.sh
# does the former unless the Makefile already has the rule.

ASAN_SAN_FLAGS = -fsanitize=address -fno-omit-frame-pointer
ASAN_CFLAGS = -g -O1 $(ASAN_SAN_FLAGS)
ASAN_OBJDIR = tests/asan-obj
ASAN_PLUGIN_HDRS = \
	$(top_srcdir)/plugin/netdev-ssh-tap.h \
	$(top_srcdir)/plugin/ssh-tap-link.h \
	$(top_srcdir)/plugin/ssh-tap-login.h \
	$(top_srcdir)/plugin/ssh-tap-options.h \
	$(top_srcdir)/plugin/ssh-tap-proto.h \
	$(top_srcdir)/plugin/ssh-tap-pump.h \
	$(top_srcdir)/plugin/ssh-tap-session.h
ASAN_OBJS = \
	$(ASAN_OBJDIR)/ssh-tap-main.o \
	$(ASAN_OBJDIR)/netdev-ssh-tap.o \
	$(ASAN_OBJDIR)/ssh-tap-options.o \
	$(ASAN_OBJDIR)/ssh-tap-login.o \
	$(ASAN_OBJDIR)/ssh-tap-pump.o \
	$(ASAN_OBJDIR)/ssh-tap-session.o \
	$(ASAN_OBJDIR)/ssh-tap-link.o \
	$(ASAN_OBJDIR)/ssh-tap-proto.o

# The same compile commands as the Makefile's, plus ASan.
ASAN_COMPILE = $(CC) $(DEFS) $(AM_CPPFLAGS) $(CPPFLAGS) $(AM_CFLAGS) \
	$(LIBSSH_CFLAGS) $(CFLAGS) $(ASAN_CFLAGS)

# Everything but the codec: the same compile command as the Makefile's.
$(ASAN_OBJDIR)/%.o: $(top_srcdir)/plugin/%.c $(ASAN_PLUGIN_HDRS)
	@mkdir -p $(ASAN_OBJDIR)
	$(ASAN_COMPILE) -c -o $@ $<
# The frame codec and the protocol endpoint are built without OVS's include
# paths (see Makefile.am).
$(ASAN_OBJDIR)/ssh-tap-proto.o $(ASAN_OBJDIR)/ssh-tap-link.o: \
		$(ASAN_OBJDIR)/%.o: $(top_srcdir)/plugin/%.c \
		$(top_srcdir)/plugin/ssh-tap-link.h \
		$(top_srcdir)/plugin/ssh-tap-proto.h
	@mkdir -p $(ASAN_OBJDIR)
	$(CC) -I$(top_srcdir)/plugin $(AM_CFLAGS) $(CFLAGS) $(ASAN_CFLAGS) \
	  -c -o $@ $<

# The link line of plugin/ovs-vswitchd-ssh-tap, with our ASan objects in
# place of plugin/ssh-tap-main.o and the two plugin libraries.
tests/ovs-vswitchd-ssh-tap-asan: $(ASAN_OBJS) $(OVS_LIBDEPS)
	$(CC) $(CFLAGS) $(ASAN_CFLAGS) $(LDFLAGS) \
	  $(plugin_ovs_vswitchd_ssh_tap_LDFLAGS) -o $@ $(ASAN_OBJS) \
	  $(OVS_BUILDDIR)/vswitchd/bridge.o \
	  $(OVS_BUILDDIR)/vswitchd/ovs-vswitchd.o \
	  $(OVS_BUILDDIR)/vswitchd/system-stats.o \
	  $(OVS_LIBDEPS) $(LIBSSH_LIBS) $(OVS_LIBS) $(LIBS)

asan-vswitchd: tests/ovs-vswitchd-ssh-tap-asan
.PHONY: asan-vswitchd
