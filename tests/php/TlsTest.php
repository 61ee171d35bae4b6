<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests;

use Mqtt\ConfigException;
use Mqtt\ConnectionException;
use Mqtt\Subscriber;
use Mqtt\TimeoutException;
use MqttBroadcast\Tests\Support\Certificates;
use MqttBroadcast\Tests\Support\MqttTestCase;
use MqttBroadcast\Tests\Support\SecureBroker;

/**
 * The `tls` option against a real mosquitto TLS listener, with certificates made
 * by openssl at test time: what works is delivered (seen by an independent
 * subscriber on the broker's plain listener), what fails says why in
 * status()['last_error'] and makes publishSync() fail fast with that reason
 * while the connection keeps retrying.
 *
 * @group protocol
 */
final class TlsTest extends MqttTestCase
{
    /** Far beyond a failed handshake on loopback: a publishSync() that reaches it did not fail fast. */
    private const SYNC_TIMEOUT = 10.0;

    /** @return iterable<string, array{string}> */
    public static function trustedCaFiles(): iterable
    {
        yield 'the CA alone' => ['ca'];
        yield 'a bundle with an unrelated CA first' => ['bundle'];
        yield 'a directory with the CA, the unrelated CA and a file that is no certificate' => ['directory'];
    }

    /** @dataProvider trustedCaFiles */
    public function testTheRightCaConnectsAndDelivers(string $caFile): void
    {
        $certs = Certificates::shared();
        $secure = SecureBroker::tls($certs->server(), $certs->ca());

        $this->assertDelivers($secure, ['ca_file' => match ($caFile) {
            'ca' => $certs->ca(),
            'bundle' => $certs->caBundle(),
            'directory' => self::directoryOf($certs->dir() . '/trusted', [$certs->otherCa(), $certs->ca(), $certs->notPem()]),
        }]);
    }

    /**
     * PHP's thread writes QoS 0 and 1 publishes through the connection's TLS
     * session itself, and reads publishSync()'s PUBACK from it, while the
     * runtime seals and opens records of the same session: every message
     * arrives once, in the order of its QoS (a broker may let QoS 0 overtake
     * QoS 1 waiting for the subscriber's window), both at an independent
     * subscriber and back through the same connection, a large one (many
     * records, more than the socket takes at once) among them.
     */
    public function testPhpsThreadAndTheRuntimeShareOneTlsSession(): void
    {
        $certs = Certificates::shared();
        $secure = SecureBroker::tls($certs->server(), $certs->ca());
        $topic = $this->topic('one-session');
        $listener = $this->listen($topic, $secure->broker());
        $client = $this->client($this->options(['port' => $secure->tlsPort(), 'tls' => ['ca_file' => $certs->ca()]], $secure->broker()));
        $subscriber = new Subscriber([$client]);
        $subscriber->subscribe($topic, 1);

        $sent = [0 => [], 1 => []];
        for ($i = 0; $i < 200; $i++) {
            $sent[$i % 2][] = "message $i";
            $client->publish($topic, "message $i", $i % 2);
        }
        $sent[1][] = str_repeat('sealed in many records ', 20_000);
        $client->publishSync($topic, end($sent[1]), 1, null, self::SYNC_TIMEOUT);
        for ($i = 0; $i < 20; $i++) {
            $sent[1][] = "acknowledged $i";
            $client->publishSync($topic, "acknowledged $i", 1, null, self::SYNC_TIMEOUT);
        }
        $count = count($sent[0]) + count($sent[1]);

        $received = [0 => [], 1 => []];
        for ($n = 0; $n < $count && ($message = $subscriber->next(self::SYNC_TIMEOUT)) !== null; $n++) {
            $received[$message->qos][] = $message->payload;
        }
        $this->assertSame($sent, $received, 'back through the same connection');
        $listener->waitFor($count);
        $arrived = $listener->payloads();
        foreach ($sent as $qos => $payloads) {
            $this->assertSame($payloads, array_values(array_intersect($arrived, $payloads)), "QoS $qos at an independent subscriber");
        }
        $this->assertCount($count, $arrived);
        $this->assertSame($count, $client->status()['published']);
    }

    /**
     * Over TLS too, close() sends DISCONNECT, then TLS's close_notify, then
     * ends its half of the connection; and the session a restart of the
     * broker ended is replaced by a fresh one that delivers what waited.
     */
    public function testCloseAndReconnectEndAndStartTheSharedTlsSessionCleanly(): void
    {
        $certs = Certificates::shared();
        $secure = SecureBroker::tls($certs->server(), $certs->ca());
        $broker = $secure->broker();
        $topic = $this->topic('across-sessions');
        $listener = $this->listen($topic, $broker);
        $willTopic = $this->topic('will');
        $options = $this->options([
            'port' => $secure->tlsPort(),
            'tls' => ['ca_file' => $certs->ca()],
            'will' => ['topic' => $willTopic, 'payload' => 'gone'],
            'reconnect' => ['initial_delay' => 0.1, 'max_delay' => 0.5, 'max_retries' => 0],
        ], $broker);
        $client = $this->client($options);
        $client->publishSync($topic, 'first session', 1, null, self::SYNC_TIMEOUT);

        $broker->restart();
        $client->publish($topic, 'second session', 1);
        $this->assertTrue($client->flush(self::SYNC_TIMEOUT), json_encode($client->status()));
        // The restart dropped the first session's link: only close() is watched.
        $will = $this->listen($willTopic, $broker);
        $client->close();

        $deadline = microtime(true) + self::SYNC_TIMEOUT;
        while (count($broker->connectionEnds($options['client_id'])) < 2 && microtime(true) < $deadline) {
            usleep(10_000);
        }
        $this->assertCount(1, $broker->disconnects($options['client_id']), "a DISCONNECT after the restart:\n" . $broker->log());
        $this->assertSame(['first session', 'second session'], $listener->waitFor(2) ? $listener->payloads() : []);
        $will->sync();
        $this->assertSame([], $will->payloads(), 'no will: the broker read the DISCONNECT');
    }

    public function testSystemRootsDoNotTrustAPrivateCa(): void
    {
        $certs = Certificates::shared();
        $secure = SecureBroker::tls($certs->server(), $certs->ca());

        $this->assertFailsFastAndKeepsRetrying($secure, true, 'unknown CA');
    }

    public function testServerCertificateOfAnUnrelatedCaIsAnUnknownCa(): void
    {
        $certs = Certificates::shared();
        $secure = SecureBroker::tls($certs->server(), $certs->ca());

        $this->assertFailsFastAndKeepsRetrying($secure, ['ca_file' => $certs->otherCa()], 'unknown CA');
    }

    public function testServerNameTheCertificateDoesNotCoverIsAHostnameMismatch(): void
    {
        $certs = Certificates::shared();
        $secure = SecureBroker::tls($certs->server(), $certs->ca());

        $this->assertFailsFastAndKeepsRetrying($secure, ['ca_file' => $certs->ca(), 'server_name' => 'wrong.example'], 'hostname mismatch');
    }

    public function testCertificateForAnotherNameThanTheHostIsAHostnameMismatch(): void
    {
        $certs = Certificates::shared();
        $secure = SecureBroker::tls($certs->otherNameServer(), $certs->ca());

        $this->assertFailsFastAndKeepsRetrying($secure, ['ca_file' => $certs->ca()], 'hostname mismatch');
    }

    public function testServerNameMatchingTheCertificateConnectsToAnAddressItDoesNotCover(): void
    {
        $certs = Certificates::shared();
        $secure = SecureBroker::tls($certs->otherNameServer(), $certs->ca());

        $this->assertDelivers($secure, ['ca_file' => $certs->ca(), 'server_name' => Certificates::OTHER_NAME]);
    }

    public function testExpiredServerCertificateIsReportedAsExpired(): void
    {
        $certs = Certificates::shared();
        $secure = SecureBroker::tls($certs->expiredServer(), $certs->ca());

        $this->assertFailsFastAndKeepsRetrying($secure, ['ca_file' => $certs->ca()], 'expired');
    }

    /** @return iterable<string, array{string}> */
    public static function selfSignedCertificates(): iterable
    {
        yield 'made with openssl req -x509 (CA:TRUE)' => ['selfSignedServer'];
        yield 'marked CA:FALSE' => ['selfSignedLeafServer'];
    }

    /** @dataProvider selfSignedCertificates */
    public function testSelfSignedServerIsAnUnknownCaByDefault(string $certificate): void
    {
        $secure = SecureBroker::tls(Certificates::shared()->$certificate(), Certificates::shared()->ca());

        $this->assertFailsFastAndKeepsRetrying($secure, true, 'unknown CA');
    }

    /** @dataProvider selfSignedCertificates */
    public function testAllowSelfSignedConnectsToASelfSignedServer(string $certificate): void
    {
        $secure = SecureBroker::tls(Certificates::shared()->$certificate(), Certificates::shared()->ca());

        $this->assertDelivers($secure, ['allow_self_signed' => true]);
    }

    /** @return iterable<string, array{string}> */
    public static function certificatesNotTrustedByDefault(): iterable
    {
        yield 'signed by a CA the client does not know' => ['server'];
        yield 'self-signed' => ['selfSignedServer'];
        yield 'expired' => ['expiredServer'];
        yield 'for another name' => ['otherNameServer'];
    }

    /** @dataProvider certificatesNotTrustedByDefault */
    public function testVerifyPeerFalseAcceptsAnyCertificate(string $certificate): void
    {
        $secure = SecureBroker::tls(Certificates::shared()->$certificate(), Certificates::shared()->ca());

        $this->assertDelivers($secure, ['verify_peer' => false]);
    }

    /** @return iterable<string, array{string}> */
    public static function clientKeyFormats(): iterable
    {
        yield 'EC key, PKCS#8 (BEGIN PRIVATE KEY)' => ['ec-pkcs8'];
        yield 'EC key, SEC1 (BEGIN EC PRIVATE KEY)' => ['ec-sec1'];
        yield 'RSA key, PKCS#1 (BEGIN RSA PRIVATE KEY)' => ['rsa-pkcs1'];
        yield 'RSA key, PKCS#8 (BEGIN PRIVATE KEY)' => ['rsa-pkcs8'];
    }

    /** @dataProvider clientKeyFormats */
    public function testMutualTlsWithAClientCertificateConnects(string $keyFormat): void
    {
        $certs = Certificates::shared();
        $secure = SecureBroker::tls($certs->server(), $certs->ca(), requireClientCertificate: true);
        $client = $certs->client($keyFormat);

        $options = $this->assertDelivers($secure, [
            'ca_file' => $certs->ca(),
            'cert_file' => $client['cert'],
            'key_file' => $client['key'],
        ]);

        $cn = $keyFormat === 'rsa-pkcs1' || $keyFormat === 'rsa-pkcs8' ? 'mqtt-broadcast-test-rsa-client' : 'mqtt-broadcast-test-client';
        $this->assertNotSame(
            [],
            $secure->broker()->logLinesMatching('/New client connected from \S+ as ' . preg_quote($options['client_id'], '/') . " \\(.*u'" . preg_quote($cn, '/') . "'\\)/"),
            "the broker took the client certificate's CN as the user name:\n" . $secure->broker()->log()
        );
    }

    public function testMutualTlsWithoutAClientCertificateIsRejected(): void
    {
        $certs = Certificates::shared();
        $secure = SecureBroker::tls($certs->server(), $certs->ca(), requireClientCertificate: true);

        $this->assertFailsFastAndKeepsRetrying($secure, ['ca_file' => $certs->ca()], 'client certificate rejected');
    }

    public function testClientCertificateOfACaTheBrokerDoesNotTrustIsRejected(): void
    {
        $certs = Certificates::shared();
        $secure = SecureBroker::tls($certs->server(), $certs->ca(), requireClientCertificate: true);
        $rogue = $certs->rogueClient();

        $this->assertFailsFastAndKeepsRetrying(
            $secure,
            ['ca_file' => $certs->ca(), 'cert_file' => $rogue['cert'], 'key_file' => $rogue['key']],
            'client certificate rejected'
        );
    }

    public function testAlpnProtocolsAreOfferedToABrokerThatIgnoresThem(): void
    {
        $certs = Certificates::shared();
        $secure = SecureBroker::tls($certs->server(), $certs->ca());

        $this->assertDelivers($secure, ['ca_file' => $certs->ca(), 'alpn' => ['mqtt', 'x-amzn-mqtt-ca']]);
    }

    /**
     * Paths are written as {ca}, {dir}, {not_pem}, {server_key}, {client_cert}, {client_key}
     * and filled in by the test, so listing the cases makes no certificates.
     *
     * @return iterable<string, array{mixed, string}>
     */
    public static function badTlsOptions(): iterable
    {
        yield 'tls is a word' => ['yes', 'tls'];
        yield 'tls is a number' => [42, 'tls'];
        yield 'tls is a list of strings' => [['/etc/ssl/certs/ca-certificates.crt'], 'tls'];
        yield 'unknown key' => [['cafile' => '{ca}'], 'ca_file'];
        yield 'ca_file missing' => [['ca_file' => '{dir}/missing.pem'], 'tls.ca_file'];
        yield 'ca_file is a directory without certificates' => [['ca_file' => '{empty_dir}'], 'tls.ca_file" is a directory without PEM certificates'];
        yield 'ca_file holds no PEM' => [['ca_file' => '{not_pem}'], 'tls.ca_file'];
        yield 'ca_file holds only a key' => [['ca_file' => '{server_key}'], 'tls.ca_file'];
        yield 'ca_file is a number' => [['ca_file' => 42], 'tls.ca_file'];
        yield 'ca_file is empty' => [['ca_file' => ''], 'tls.ca_file'];
        yield 'cert_file without key_file' => [['cert_file' => '{client_cert}'], 'tls.key_file'];
        yield 'key_file without cert_file' => [['key_file' => '{client_key}'], 'tls.cert_file'];
        yield 'cert_file missing' => [['cert_file' => '{dir}/missing.pem', 'key_file' => '{client_key}'], 'tls.cert_file'];
        yield 'key_file missing' => [['cert_file' => '{client_cert}', 'key_file' => '{dir}/missing.key'], 'tls.key_file'];
        yield 'cert_file holds no PEM' => [['cert_file' => '{not_pem}', 'key_file' => '{client_key}'], 'tls.cert_file'];
        yield 'cert_file holds only a key' => [['cert_file' => '{client_key}', 'key_file' => '{client_key}'], 'tls.cert_file'];
        yield 'key_file holds no PEM' => [['cert_file' => '{client_cert}', 'key_file' => '{not_pem}'], 'tls.key_file'];
        yield 'key_file holds only a certificate' => [['cert_file' => '{client_cert}', 'key_file' => '{client_cert}'], 'tls.key_file'];
        yield 'verify_peer is a word' => [['verify_peer' => 'maybe'], 'tls.verify_peer'];
        yield 'verify_peer is an array' => [['verify_peer' => []], 'tls.verify_peer'];
        yield 'allow_self_signed is a word' => [['allow_self_signed' => 'sometimes'], 'tls.allow_self_signed'];
        yield 'server_name is a number' => [['server_name' => 42], 'tls.server_name'];
        yield 'server_name is empty' => [['server_name' => ''], 'tls.server_name'];
        yield 'alpn is a string' => [['alpn' => 'mqtt'], 'tls.alpn'];
        yield 'alpn holds a number' => [['alpn' => ['mqtt', 8883]], 'tls.alpn'];
        yield 'alpn holds an empty protocol' => [['alpn' => ['']], 'tls.alpn'];
    }

    /** A directory holding copies of $files (made once). */
    private static function directoryOf(string $dir, array $files): string
    {
        if (!is_dir($dir)) {
            mkdir("$dir.partial");
            foreach ($files as $file) {
                copy($file, "$dir.partial/" . basename($file));
            }
            rename("$dir.partial", $dir);
        }
        return $dir;
    }

    /** @dataProvider badTlsOptions */
    public function testBadTlsOptionThrowsConfigExceptionNamingIt(mixed $tls, string $mention): void
    {
        $certs = Certificates::shared();
        $paths = [
            '{ca}' => $certs->ca(),
            '{dir}' => $certs->dir(),
            '{empty_dir}' => self::directoryOf($certs->dir() . '/empty', []),
            '{not_pem}' => $certs->notPem(),
            '{server_key}' => $certs->server()['key'],
            '{client_cert}' => $certs->client()['cert'],
            '{client_key}' => $certs->client()['key'],
        ];
        if (is_array($tls)) {
            $tls = array_map(static fn ($value) => is_string($value) ? strtr($value, $paths) : $value, $tls);
        }

        try {
            $this->client($this->options(['tls' => $tls]));
            $this->fail('no ConfigException for tls => ' . var_export($tls, true));
        } catch (ConfigException $e) {
            $this->assertStringContainsString($mention, $e->getMessage());
        }
    }

    public function testTlsFalseIsAPlainConnection(): void
    {
        $topic = $this->topic('plain');
        $listener = $this->listen($topic);
        $client = $this->client($this->options(['tls' => false]));

        $client->publishSync($topic, 'in the clear', 1, null, self::SYNC_TIMEOUT);

        $this->assertSame([[$topic, 'in the clear']], $listener->waitFor(1));
    }

    /**
     * Publishes through the TLS listener and checks an independent subscriber
     * on the plain listener got it.
     *
     * @return array<string,mixed> the client's options
     */
    private function assertDelivers(SecureBroker $secure, array|bool $tls): array
    {
        $topic = $this->topic('secure');
        $listener = $this->listen($topic, $secure->broker());
        $options = $this->options(['port' => $secure->tlsPort(), 'tls' => $tls, 'flush_timeout' => 2], $secure->broker());
        $client = $this->client($options);

        try {
            $client->publishSync($topic, 'over tls', 1, null, self::SYNC_TIMEOUT);
        } catch (\Mqtt\MqttException $e) {
            $this->fail(get_class($e) . ': ' . $e->getMessage() . "\nstatus: " . json_encode($client->status()) . "\nbroker log:\n" . $secure->broker()->log());
        }

        $this->assertSame([[$topic, 'over tls']], $listener->waitFor(1));
        $status = $client->status();
        $this->assertSame('connected', $status['state'], json_encode($status));
        $this->assertTrue($status['connected']);
        return $options;
    }

    /**
     * Constructing succeeds; a publishSync() already waiting for the connection
     * and a new one both throw ConnectionException with the reason, long before
     * their timeout; status() says why; the connection keeps trying.
     */
    private function assertFailsFastAndKeepsRetrying(SecureBroker $secure, array|bool $tls, string $reason): void
    {
        $port = $secure->tlsPort();
        $client = $this->client($this->options([
            'port' => $port,
            'tls' => $tls,
            'flush_timeout' => 0.2,
            'reconnect' => ['initial_delay' => 0.1, 'max_delay' => 0.5, 'max_retries' => 0],
        ], $secure->broker()));

        foreach (['waiting for the first attempt', 'made after it failed'] as $which) {
            $started = microtime(true);
            try {
                $client->publishSync($this->topic('refused'), 'never delivered', 1, null, self::SYNC_TIMEOUT);
                $this->fail("publishSync() $which returned:\n" . $secure->broker()->log());
            } catch (TimeoutException $e) {
                $this->fail("publishSync() $which timed out instead of failing fast with \"$reason\": " . $e->getMessage()
                    . "\nstatus: " . json_encode($client->status()));
            } catch (ConnectionException $e) {
                $this->assertStringContainsStringIgnoringCase($reason, $e->getMessage(), "publishSync() $which");
            }
            $this->assertLessThan(self::SYNC_TIMEOUT, microtime(true) - $started);
        }

        $attempts = $secure->connectionAttempts($port);
        $this->assertTrue(
            $secure->awaitConnectionAttempts($port, $attempts + 2),
            "the connection keeps retrying (broker saw $attempts attempts):\n" . $secure->broker()->log()
        );
        $status = $client->status();
        $this->assertContains($status['state'], ['connecting', 'reconnecting'], 'still trying, not failed: ' . json_encode($status));
        $this->assertFalse($status['connected']);
        $this->assertIsString($status['last_error']);
        $this->assertStringContainsStringIgnoringCase($reason, $status['last_error'], 'last_error after further attempts');
    }
}
