# The scripted SMTP server's control port (testworld/scripted_smtp.py), shared
# by the TAP suites that steer it: one command, one line back.
package EvScripted;
use strict;
use warnings;
use IO::Socket::INET;
use Exporter 'import';
our @EXPORT = qw(control);

sub control
{
	my ($command) = @_;
	my $sock = IO::Socket::INET->new(PeerAddr => '127.0.2.1', PeerPort => 8025, Timeout => 5)
	  or return undef;
	print $sock "$command\n";
	my $line = <$sock>;
	close $sock;
	return $line;
}

1;
