<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests\Support;

/**
 * What the test Broker needs to run the built-in broker (Mqtt\Broker) in place
 * of Mosquitto, when MQTT_BROADCAST_TEST_BROKER=builtin: the child PHP process
 * that run()s it, its options translated from the Mosquitto config lines the
 * tests ask for, and the wording of its log.
 *
 * A config line without an equivalent skips the test, naming the line: what
 * that test checks is Mosquitto's behaviour, not the extension's.
 */
final class BuiltinBroker
{
    public const ENV = 'MQTT_BROADCAST_TEST_BROKER';

    public static function requested(): bool
    {
        return getenv(self::ENV) === 'builtin';
    }

    /**
     * Mqtt\Broker's options for a broker on $port keeping its state in $dir,
     * with the Mosquitto config lines a test asked for translated.
     *
     * @param list<string> $mosquittoLines
     */
    public static function options(int $port, string $dir, array $mosquittoLines): array
    {
        $options = [
            'listen' => "127.0.0.1:$port",
            'persistence' => "$dir/store",
            'log' => self::logFile($dir),
            // As the tests' Mosquitto: nothing queued is dropped, and packets are
            // limited by the protocol only (Mosquitto's default).
            'max_queued_messages' => 0,
            'max_packet_size' => 268_435_455,
        ];
        $tls = [];
        $requireCertificate = false;
        $persistence = true;
        foreach ($mosquittoLines as $line) {
            [$key, $value] = array_pad(explode(' ', $line, 2), 2, '');
            match ($key) {
                'max_packet_size' => $options['max_packet_size'] = (int) $value,
                // Mosquitto's 0 is no limit; MQTT's packet ids allow 65,535 in flight.
                'max_inflight_messages' => $options['max_inflight_messages'] = (int) $value ?: 65_535,
                'persistence' => $persistence = $value === 'true',
                'allow_anonymous' => $options['allow_anonymous'] = $value === 'true',
                'password_file' => $options['password_file'] = $value,
                'listener' => $tls['listen'] = '127.0.0.1:' . explode(' ', $value)[0],
                'certfile' => $tls['cert_file'] = $value,
                'keyfile' => $tls['key_file'] = $value,
                'cafile' => $tls['ca_file'] = $value,
                'require_certificate' => $requireCertificate = $value === 'true',
                default => self::skip("Mosquitto's \"$line\""),
            };
        }
        if (!$persistence) {
            unset($options['persistence']);
        }
        if ($tls !== []) {
            // Mosquitto asks clients for a certificate only with require_certificate;
            // Mqtt\Broker does whenever it is given a CA.
            if (!$requireCertificate) {
                unset($tls['ca_file']);
            }
            $options['tls'] = $tls;
        }
        return $options;
    }

    /** The command that runs the broker until SIGTERM. */
    public static function command(string $dir, array $options): array
    {
        file_put_contents("$dir/options.php", '<?php return ' . var_export($options, true) . ";\n");
        file_put_contents("$dir/broker.php", "<?php\n(new Mqtt\\Broker(require __DIR__ . '/options.php'))->run();\n");
        return [PHP_BINARY, '-d', 'extension=' . PhpScript::extensionPath(), '-d', 'display_errors=stderr', "$dir/broker.php"];
    }

    /** The broker's log (its `log` option); the child's own output goes there too. */
    public static function logFile(string $dir): string
    {
        return "$dir/broker.log";
    }

    /** Skips the running test: what it checks needs Mosquitto. */
    public static function skip(string $what): never
    {
        \PHPUnit\Framework\Assert::markTestSkipped("needs Mosquitto: the built-in broker has no equivalent of $what");
    }
}
