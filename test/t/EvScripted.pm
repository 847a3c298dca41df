# The scripted SMTP server's control port (testworld/scripted_smtp.py), shared
# by the TAP suites that steer it: one command, one line back. The world's is
# 127.0.2.1:8025; EV_WORLD_CONTROL (host:port) names another, such as that of
# a second scripted server started by hand with --control.
package EvScripted;
use strict;
use warnings;
use IO::Socket::INET;
use Exporter 'import';
our @EXPORT = qw(control);

sub control
{
	my ($command) = @_;
	# The world's (testworld/world.sh env), unless another is named.
	my ($host, $port) = split /:/, ($ENV{EV_WORLD_CONTROL} // '127.0.2.1:8025');
	my $sock = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port, Timeout => 5)
	  or return undef;
	print $sock "$command\n";
	my $line = <$sock>;
	close $sock;
	return $line;
}

1;
