<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests\Support;

/**
 * A real mosquitto (a Broker) with security settings added to its config:
 *
 * - tls(): besides the Broker's plain anonymous listener (which Listener and
 *   mosquitto_pub use), a TLS listener on a second free port, presenting the
 *   given server certificate, optionally requiring a client certificate signed
 *   by the CA (its CN becomes the user name: use_identity_as_username).
 * - withPasswords(): its only listener refuses anonymous clients and checks a
 *   mosquitto_passwd file (mosquitto 2.0 cannot mix the two per listener once
 *   the Broker's defaults set allow_anonymous, so Listener cannot be used there:
 *   retainedMessage() reads what arrived with mosquitto_sub and credentials).
 */
final class SecureBroker
{
    private const START_ATTEMPTS = 3;

    private function __construct(
        private readonly Broker $broker,
        private readonly ?int $tlsPort,
        private readonly ?string $dir
    ) {
    }

    /**
     * @param array{cert:string,key:string} $server the certificate the TLS listener presents
     * @param string $caFile CAs the broker trusts for client certificates
     */
    public static function tls(array $server, string $caFile, bool $requireClientCertificate = false): self
    {
        return self::startWith(static function () use ($server, $caFile, $requireClientCertificate): array {
            $tlsPort = Broker::freePort();
            $lines = [
                "listener $tlsPort 127.0.0.1",
                "cafile $caFile",
                "certfile {$server['cert']}",
                "keyfile {$server['key']}",
            ];
            if ($requireClientCertificate) {
                $lines[] = 'require_certificate true';
                $lines[] = 'use_identity_as_username true';
            }
            return [$lines, $tlsPort, null];
        });
    }

    /** @param array<string,string> $users user name => password */
    public static function withPasswords(array $users): self
    {
        $dir = sys_get_temp_dir() . '/mqtt-broadcast-passwd-' . bin2hex(random_bytes(6));
        if (!mkdir($dir, 0700)) {
            throw new \RuntimeException("cannot create $dir");
        }
        $file = "$dir/passwd";
        $create = true;
        foreach ($users as $user => $password) {
            $command = array_merge(['mosquitto_passwd'], $create ? ['-c'] : [], ['-b', $file, (string) $user, $password]);
            $process = new BackgroundProcess($command, "$dir/passwd.out", "$dir/passwd.out");
            if (!$process->wait(10.0) || $process->exitCode() !== 0) {
                Failure::raise('mosquitto_passwd failed: ' . file_get_contents("$dir/passwd.out"));
            }
            $create = false;
        }
        return self::startWith(static fn (): array => [
            ['allow_anonymous false', "password_file $file"],
            null,
            $dir,
        ]);
    }

    public function broker(): Broker
    {
        return $this->broker;
    }

    public function tlsPort(): int
    {
        return $this->tlsPort ?? throw new \LogicException('this broker has no TLS listener');
    }

    /**
     * How many connections the broker saw on $port so far (one per connection
     * attempt). Mosquitto logs an accepted connection as "New connection from
     * ... on port N.", but one whose TLS handshake fails while it accepts it only
     * as "Client connection from <address> failed: <OpenSSL error>." (no port:
     * every failed handshake counts, which is right as long as only one TLS
     * listener is in use).
     */
    public function connectionAttempts(int $port): int
    {
        $this->broker->requireMosquitto('a log line for each connection whose TLS handshake failed');
        return count($this->broker->logLinesMatching(
            '/New connection from \S+ on port ' . $port . '\.$|Client connection from \S+ failed: /'
        ));
    }

    /** Waits until the broker saw at least $count connection attempts on $port; whether it did within $timeout. */
    public function awaitConnectionAttempts(int $port, int $count, float $timeout = 20.0): bool
    {
        $deadline = microtime(true) + $timeout;
        while ($this->connectionAttempts($port) < $count) {
            if (microtime(true) >= $deadline) {
                return false;
            }
            usleep(50_000);
        }
        return true;
    }

    /**
     * The retained message on $topic, read with mosquitto_sub logged in as
     * $user (null: none arrived within $timeout).
     */
    public function retainedMessage(string $topic, string $user, string $password, float $timeout = 10.0): ?string
    {
        $out = $this->broker->dir() . '/retained-' . bin2hex(random_bytes(4));
        $process = new BackgroundProcess([
            'mosquitto_sub', '-h', $this->broker->host(), '-p', (string) $this->broker->port(),
            '-u', $user, '-P', $password, '-t', $topic, '-C', '1', '-W', (string) (int) ceil($timeout), '-F', '%x',
        ], "$out.out", "$out.err");
        $process->wait($timeout + 5.0);
        $process->kill();
        $hex = trim((string) file_get_contents("$out.out"));
        return $hex === '' ? null : (hex2bin($hex) ?: null);
    }

    public function __destruct()
    {
        if ($this->dir !== null && is_dir($this->dir)) {
            array_map('unlink', glob($this->dir . '/*') ?: []);
            rmdir($this->dir);
        }
    }

    /** @param \Closure(): array{0:list<string>,1:?int,2:?string} $config config lines, TLS port, own directory */
    private static function startWith(\Closure $config): self
    {
        for ($attempt = 1; ; $attempt++) {
            [$lines, $tlsPort, $dir] = $config();
            try {
                return new self(Broker::start($lines), $tlsPort, $dir);
            } catch (\Throwable $e) {
                // Another test may have taken the free port we picked in the meantime.
                if ($attempt >= self::START_ATTEMPTS || !str_contains($e->getMessage(), 'Address already in use')) {
                    throw $e;
                }
            }
        }
    }
}
