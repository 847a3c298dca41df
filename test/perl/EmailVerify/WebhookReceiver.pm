# The local webhook receiver (test/webhook-receiver/receiver.js) for TAP
# suites: starts it on loopback, reads its log, restarts it on the same port.
#
#   my $r = EmailVerify::WebhookReceiver->start(secrets => [$secret], tls => 1);
#   ... point the extension at $r->url('/fail/2/job1'), trust $r->ca_file ...
#   my $ok = $r->wait_for(sub { grep { $_->{status} == 200 } @{ $_[0] } }, 30);
#   $r->stop; $r->restart;   # "receiver down, then up again" on the same port
#
# Also signs a body the way the contract says (signed_headers), so that a
# suite can play the sender.
package EmailVerify::WebhookReceiver;
use strict;
use warnings;
use Carp qw(croak);
use Digest::SHA qw(hmac_sha256 hmac_sha256_hex);
use File::Basename qw(dirname);
use File::Spec;
use File::Temp qw(tempdir);
use HTTP::Tiny;
use JSON::PP;
use MIME::Base64 qw(encode_base64 decode_base64);
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

# test/perl/EmailVerify -> test/webhook-receiver and examples/webhooks, in the
# repository as in the copy test/run-tap.sh makes (same layout).
my $here = File::Spec->rel2abs(dirname(__FILE__));
our $RECEIVER_DIR = $ENV{EV_WEBHOOK_RECEIVER_DIR} // "$here/../../webhook-receiver";
our $EXAMPLES_DIR = $ENV{EV_WEBHOOK_EXAMPLES_DIR} // "$here/../../../examples/webhooks";
our $NODE = $ENV{EV_NODE} // 'node';
my $START_TIMEOUT = 30;
my $STOP_TIMEOUT = 10;

# A fresh secret as the extension makes them: "whsec_" and 32 random bytes in
# base64.
sub new_secret
{
	shift if @_ && $_[0] eq __PACKAGE__;    # also a class method
	open my $fh, '<:raw', '/dev/urandom' or croak "urandom: $!";
	read($fh, my $bytes, 32) == 32 or croak 'urandom: short read';
	close $fh;
	return 'whsec_' . encode_base64($bytes, '');
}

# The headers a delivery of $body (bytes) carries, signed with every secret
# given (several during a rotation). %a: body, secrets => [...], event_id,
# event_type, timestamp (default now).
sub signed_headers
{
	shift if @_ % 2 && $_[0] eq __PACKAGE__;    # also a class method
	my (%a) = @_;
	my $body = $a{body} // croak 'signed_headers: body';
	my @secrets = @{ $a{secrets} // croak 'signed_headers: secrets' };
	my $t = $a{timestamp} // int(time);
	my $id = $a{event_id} // croak 'signed_headers: event_id';
	my $v1 = join ',', map { 'v1=' . hmac_sha256_hex("$t.$body", $_) } @secrets;
	my $standard = join ' ', map {
		(my $key = $_) =~ s/^whsec_//;
		'v1,' . encode_base64(hmac_sha256("$id.$t.$body", decode_base64($key)), '')
	} @secrets;
	return {
		'Content-Type' => 'application/json',
		'X-Email-Verify-Event' => $a{event_type} // 'bulk.progress',
		'X-Email-Verify-Event-Id' => $id,
		'X-Email-Verify-Signature' => "t=$t,$v1",
		'webhook-id' => $id,
		'webhook-timestamp' => $t,
		'webhook-signature' => $standard,
	};
}

# Runs @cmd with stdout and stderr in files under $dir and waits (bounded)
# for its first line of output. Returns (pid, first line); dies with the
# program's stderr when it exits or stays silent.
sub spawn_until_first_line
{
	my ($dir, $name, @cmd) = @_;
	my ($out, $err) = ("$dir/$name.stdout", "$dir/$name.stderr");
	unlink $out, $err;
	my $pid = fork // croak "fork: $!";
	if ($pid == 0)
	{
		open STDIN, '<', '/dev/null';
		open STDOUT, '>', $out or POSIX::_exit(126);
		open STDERR, '>', $err or POSIX::_exit(126);
		exec @cmd or POSIX::_exit(127);
	}
	my $deadline = time + $START_TIMEOUT;
	while (time < $deadline)
	{
		if (open my $fh, '<', $out)
		{
			my $line = <$fh>;
			return ($pid, $line) if defined $line && $line =~ /\n\z/;
		}
		last if waitpid($pid, WNOHANG) == $pid;
		sleep 0.05;
	}
	kill 'KILL', $pid;
	waitpid $pid, 0;
	my $stderr = do { local (@ARGV, $/) = ($err); <> } // '';
	croak "$name did not start: @cmd\n$stderr";
}

# Stops a process started above: TERM, then KILL after a bounded wait.
sub stop_process
{
	my ($pid) = @_;
	return unless $pid && kill 0, $pid;
	kill 'TERM', $pid;
	my $deadline = time + $STOP_TIMEOUT;
	while (time < $deadline)
	{
		return if waitpid($pid, WNOHANG) == $pid;
		sleep 0.05;
	}
	kill 'KILL', $pid;
	waitpid $pid, 0;
}

# %opts: secrets => [...] (or secret => S), tls => 1, port (0: any free one),
# host (127.0.0.1), fast => 1 (counts only: no log, no verification),
# max_seconds (600), log => FILE (default: one in a temporary directory).
sub start
{
	my ($class, %opts) = @_;
	my $dir = tempdir('ev-webhook-receiver-XXXXXX', TMPDIR => 1, CLEANUP => 1);
	my $self = bless {
		dir => $dir,
		host => $opts{host} // '127.0.0.1',
		port => $opts{port} // 0,
		secrets => $opts{secrets} // (defined $opts{secret} ? [ $opts{secret} ] : []),
		tls => $opts{tls} ? 1 : 0,
		fast => $opts{fast} ? 1 : 0,
		max_seconds => $opts{max_seconds} // 600,
		log_file => $opts{log} // "$dir/log.jsonl",
		runs => 0,
		owner => $$,
	}, $class;
	$self->_run;
	return $self;
}

sub _run
{
	my ($self) = @_;
	my @cmd = (
		$NODE, "$RECEIVER_DIR/receiver.js",
		'--host' => $self->{host}, '--port' => $self->{port},
		'--max-seconds' => $self->{max_seconds}, map { ('--secret' => $_) } @{ $self->{secrets} });
	push @cmd, '--log' => $self->{log_file} unless $self->{fast};
	push @cmd, '--fast' if $self->{fast};
	# The certificate stays in one directory, so a restart keeps the CA.
	push @cmd, '--tls-dir' => "$self->{dir}/tls" if $self->{tls};
	my ($pid, $line) = spawn_until_first_line($self->{dir}, 'receiver' . $self->{runs}++, @cmd);
	my $info = decode_json($line);
	@$self{qw(pid port ca_file)} = ($pid, $info->{port}, $info->{ca_file});
	return;
}

sub port { return $_[0]{port} }
sub ca_file { return $_[0]{ca_file} }
sub pid { return $_[0]{pid} }
sub log_file { return $_[0]{log_file} }

sub url
{
	my ($self, $path) = @_;
	$path //= '/ok';
	my $scheme = $self->{tls} ? 'https' : 'http';
	return "$scheme://$self->{host}:$self->{port}$path";
}

# An HTTP::Tiny that trusts the receiver's certificate.
sub http
{
	my ($self, %opts) = @_;
	my %tls = $self->{tls} ? (verify_SSL => 1, SSL_options => { SSL_ca_file => $self->{ca_file} }) : ();
	return HTTP::Tiny->new(timeout => 10, %tls, %opts);
}

# POSTs $body (bytes) to $path with the given headers; the HTTP::Tiny answer.
sub post
{
	my ($self, $path, $body, $headers, %http) = @_;
	return $self->http(%http)->post($self->url($path), { content => $body, headers => $headers // {} });
}

# The records logged so far (across restarts), oldest first, as an arrayref.
sub log
{
	my ($self) = @_;
	my @records;
	open my $fh, '<', $self->{log_file} or return [];
	while (my $line = <$fh>)
	{
		last unless $line =~ /\n\z/;    # a record still being written
		push @records, decode_json($line);
	}
	close $fh;
	return \@records;
}

# {requests, connections, distinct_event_ids, per_path} of the running receiver.
sub stats
{
	my ($self) = @_;
	my $res = $self->http->get($self->url('/_stats'));
	croak "receiver stats: $res->{status} $res->{content}" unless $res->{success};
	return decode_json($res->{content});
}

# Calls $cond->(records) until it returns true (its value is returned) or
# $timeout seconds (default 30) pass (undef).
sub wait_for
{
	my ($self, $cond, $timeout) = @_;
	my $deadline = time + ($timeout // 30);
	while (1)
	{
		my $result = $cond->($self->log);
		return $result if $result;
		return undef if time >= $deadline;
		sleep 0.1;
	}
}

sub stop
{
	my ($self) = @_;
	stop_process($self->{pid});
	$self->{pid} = undef;
	return;
}

# Up again on the same port, with the same log and certificate (counters of
# /fail and /retry-after start again).
sub restart
{
	my ($self) = @_;
	$self->stop;
	$self->_run;
	return $self;
}

sub DESTROY
{
	my ($self) = @_;
	local ($?, $!, $@);
	# Only the process that started it (not a fork of the test) stops it.
	stop_process($self->{pid}) if $self->{pid} && $self->{owner} == $$;
}

1;
