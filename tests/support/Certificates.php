<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests\Support;

/**
 * Test certificates made with the openssl command line tool, once per PHP
 * process, in a temporary directory removed at exit:
 *
 * - ca(): the test CA, and otherCa(): an unrelated one
 * - server(): signed by the CA, valid for 127.0.0.1 and localhost
 * - otherNameServer(): signed by the CA, valid only for other.example
 * - expiredServer(): signed by the CA, valid for 127.0.0.1, expired in 2020
 * - selfSignedServer(): made the way most people make one
 *   (`openssl req -x509 -subj /CN=... -addext subjectAltName=...`, which marks it CA:TRUE),
 *   selfSignedLeafServer(): self-signed but marked CA:FALSE
 * - client(): a client certificate signed by the CA, with its key in several
 *   PEM encodings (clientKey()), and rogueClient(): one signed by the unrelated CA
 *
 * Each certificate is a ['cert' => path, 'key' => path] pair.
 */
final class Certificates
{
    public const OTHER_NAME = 'other.example';

    private static ?self $shared = null;

    private function __construct(private readonly string $dir)
    {
    }

    /** The certificates of this process, made on first use. */
    public static function shared(): self
    {
        if (self::$shared === null) {
            $dir = sys_get_temp_dir() . '/mqtt-broadcast-certs-' . bin2hex(random_bytes(6));
            if (!mkdir($dir, 0700)) {
                throw new \RuntimeException("cannot create $dir");
            }
            register_shutdown_function(static fn () => TempDir::remove($dir));
            $certificates = new self($dir);
            $certificates->generate();
            self::$shared = $certificates;
        }
        return self::$shared;
    }

    public function dir(): string
    {
        return $this->dir;
    }

    /** PEM file of the test CA's certificate. */
    public function ca(): string
    {
        return $this->path('ca.pem');
    }

    /** PEM file of a CA that signed nothing the test broker presents. */
    public function otherCa(): string
    {
        return $this->path('other-ca.pem');
    }

    /** A bundle: the unrelated CA first, then the test CA. */
    public function caBundle(): string
    {
        return $this->path('bundle.pem');
    }

    /** @return array{cert:string,key:string} */
    public function server(): array
    {
        return $this->pair('server');
    }

    /** @return array{cert:string,key:string} */
    public function otherNameServer(): array
    {
        return $this->pair('other-name');
    }

    /** @return array{cert:string,key:string} */
    public function expiredServer(): array
    {
        return $this->pair('expired');
    }

    /** @return array{cert:string,key:string} */
    public function selfSignedServer(): array
    {
        return $this->pair('self-signed');
    }

    /** @return array{cert:string,key:string} */
    public function selfSignedLeafServer(): array
    {
        return $this->pair('self-signed-leaf');
    }

    /**
     * A client certificate signed by the CA.
     *
     * @param string $keyFormat ec-pkcs8 (BEGIN PRIVATE KEY), ec-sec1 (BEGIN EC PRIVATE KEY),
     *                          rsa-pkcs1 (BEGIN RSA PRIVATE KEY), rsa-pkcs8
     * @return array{cert:string,key:string}
     */
    public function client(string $keyFormat = 'ec-pkcs8'): array
    {
        return match ($keyFormat) {
            'ec-pkcs8' => $this->pair('client'),
            'ec-sec1' => ['cert' => $this->path('client.pem'), 'key' => $this->path('client-sec1.key')],
            'rsa-pkcs1' => ['cert' => $this->path('client-rsa.pem'), 'key' => $this->path('client-rsa-pkcs1.key')],
            'rsa-pkcs8' => ['cert' => $this->path('client-rsa.pem'), 'key' => $this->path('client-rsa.key')],
            default => throw new \InvalidArgumentException("unknown key format $keyFormat"),
        };
    }

    /** @return array{cert:string,key:string} a client certificate signed by the unrelated CA */
    public function rogueClient(): array
    {
        return $this->pair('rogue-client');
    }

    /** A file that exists but holds no PEM block. */
    public function notPem(): string
    {
        return $this->path('not-pem.txt');
    }

    private function generate(): void
    {
        file_put_contents($this->path('not-pem.txt'), "this is not a certificate\n");
        // One config for `openssl req` and the extension sections, so the system's openssl.cnf adds nothing.
        file_put_contents($this->path('ext.cnf'), implode("\n", [
            '[ req ]',
            'distinguished_name = dn',
            'prompt = no',
            '[ dn ]',
            '[ ca ]',
            'basicConstraints = critical, CA:TRUE',
            'keyUsage = critical, keyCertSign, cRLSign',
            'subjectKeyIdentifier = hash',
            '[ server ]',
            'basicConstraints = critical, CA:FALSE',
            'keyUsage = critical, digitalSignature, keyEncipherment',
            'extendedKeyUsage = serverAuth',
            'subjectAltName = IP:127.0.0.1, DNS:localhost',
            'subjectKeyIdentifier = hash',
            'authorityKeyIdentifier = keyid',
            '[ other_name ]',
            'basicConstraints = critical, CA:FALSE',
            'keyUsage = critical, digitalSignature, keyEncipherment',
            'extendedKeyUsage = serverAuth',
            'subjectAltName = DNS:' . self::OTHER_NAME,
            'subjectKeyIdentifier = hash',
            'authorityKeyIdentifier = keyid',
            '[ client ]',
            'basicConstraints = critical, CA:FALSE',
            'keyUsage = critical, digitalSignature, keyEncipherment',
            'extendedKeyUsage = clientAuth',
            'subjectKeyIdentifier = hash',
            'authorityKeyIdentifier = keyid',
            '[ self_signed_leaf ]',
            'basicConstraints = critical, CA:FALSE',
            'keyUsage = critical, digitalSignature, keyEncipherment',
            'extendedKeyUsage = serverAuth',
            'subjectAltName = IP:127.0.0.1, DNS:localhost',
            'subjectKeyIdentifier = hash',
            '',
        ]));

        $this->selfSignedCa('ca', '/CN=mqtt-broadcast test CA');
        $this->selfSignedCa('other-ca', '/CN=unrelated test CA');
        file_put_contents($this->path('bundle.pem'), file_get_contents($this->otherCa()) . file_get_contents($this->ca()));

        $this->signedBy('ca', 'server', '/CN=127.0.0.1', 'server');
        $this->signedBy('ca', 'other-name', '/CN=' . self::OTHER_NAME, 'other_name');
        $this->signedBy('ca', 'client', '/CN=mqtt-broadcast-test-client', 'client');
        $this->signedBy('other-ca', 'rogue-client', '/CN=mqtt-broadcast-rogue-client', 'client');
        $this->expired();

        $this->openssl(['ec', '-in', $this->path('client.key'), '-out', $this->path('client-sec1.key')]);
        $this->openssl(['genrsa', '-traditional', '-out', $this->path('client-rsa-pkcs1.key'), '2048']);
        $this->openssl(['pkcs8', '-topk8', '-nocrypt', '-in', $this->path('client-rsa-pkcs1.key'), '-out', $this->path('client-rsa.key')]);
        $this->openssl(['req', '-new', '-config', $this->path('ext.cnf'), '-key', $this->path('client-rsa.key'),
            '-subj', '/CN=mqtt-broadcast-test-rsa-client', '-out', $this->path('client-rsa.csr')]);
        $this->sign('ca', 'client-rsa', 'client');

        // The command found in most how-tos, with the system's openssl.cnf (its v3_ca makes it CA:TRUE).
        $this->openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
            '-keyout', $this->path('self-signed.key'), '-out', $this->path('self-signed.pem'), '-days', '30',
            '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName = IP:127.0.0.1, DNS:localhost']);
        $this->openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
            '-config', $this->path('ext.cnf'), '-extensions', 'self_signed_leaf',
            '-keyout', $this->path('self-signed-leaf.key'), '-out', $this->path('self-signed-leaf.pem'), '-days', '30',
            '-subj', '/CN=127.0.0.1']);
    }

    private function selfSignedCa(string $name, string $subject): void
    {
        $this->openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
            '-config', $this->path('ext.cnf'), '-extensions', 'ca',
            '-keyout', $this->path("$name.key"), '-out', $this->path("$name.pem"), '-days', '30', '-subj', $subject]);
    }

    private function signedBy(string $ca, string $name, string $subject, string $extensions): void
    {
        $this->openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
            '-config', $this->path('ext.cnf'), '-keyout', $this->path("$name.key"), '-out', $this->path("$name.csr"),
            '-subj', $subject]);
        $this->sign($ca, $name, $extensions);
    }

    private function sign(string $ca, string $name, string $extensions): void
    {
        $this->openssl(['x509', '-req', '-in', $this->path("$name.csr"), '-CA', $this->path("$ca.pem"),
            '-CAkey', $this->path("$ca.key"), '-set_serial', '0x' . bin2hex(random_bytes(8)), '-days', '30',
            '-sha256', '-extfile', $this->path('ext.cnf'), '-extensions', $extensions, '-out', $this->path("$name.pem")]);
    }

    /** openssl 3.0's x509 has no -not_before/-not_after: `openssl ca` sets explicit dates. */
    private function expired(): void
    {
        $caDir = $this->path('ca-db');
        mkdir($caDir, 0700);
        file_put_contents("$caDir/index.txt", '');
        file_put_contents("$caDir/serial", bin2hex(random_bytes(8)) . "\n");
        file_put_contents($this->path('ca.cnf'), implode("\n", [
            '[ ca ]',
            'default_ca = test_ca',
            '[ test_ca ]',
            "database = $caDir/index.txt",
            "new_certs_dir = $caDir",
            "serial = $caDir/serial",
            'certificate = ' . $this->ca(),
            'private_key = ' . $this->path('ca.key'),
            'default_md = sha256',
            'policy = policy_any',
            'unique_subject = no',
            '[ policy_any ]',
            'commonName = supplied',
            '',
        ]));
        $this->openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
            '-config', $this->path('ext.cnf'), '-keyout', $this->path('expired.key'), '-out', $this->path('expired.csr'),
            '-subj', '/CN=127.0.0.1']);
        $this->openssl(['ca', '-batch', '-notext', '-config', $this->path('ca.cnf'),
            '-extfile', $this->path('ext.cnf'), '-extensions', 'server',
            '-startdate', '20200101000000Z', '-enddate', '20200201000000Z',
            '-in', $this->path('expired.csr'), '-out', $this->path('expired.pem')]);
    }

    /** @param list<string> $args */
    private function openssl(array $args): void
    {
        $command = array_merge(['openssl'], $args);
        $process = proc_open($command, [0 => ['file', '/dev/null', 'r'], 1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes);
        if (!is_resource($process)) {
            throw new \RuntimeException('cannot run openssl');
        }
        $stdout = stream_get_contents($pipes[1]);
        $stderr = stream_get_contents($pipes[2]);
        fclose($pipes[1]);
        fclose($pipes[2]);
        $code = proc_close($process);
        if ($code !== 0) {
            Failure::raise('`' . implode(' ', $command) . "` failed with exit code $code:\n$stdout$stderr");
        }
    }

    /** @return array{cert:string,key:string} */
    private function pair(string $name): array
    {
        return ['cert' => $this->path("$name.pem"), 'key' => $this->path("$name.key")];
    }

    private function path(string $file): string
    {
        return $this->dir . '/' . $file;
    }
}
