<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests;

use MqttBroadcast\Tests\Support\ApiSurface;
use MqttBroadcast\Tests\Support\BackgroundProcess;
use PHPUnit\Framework\TestCase;

/**
 * php-stubs/mqtt_broadcast.stub.php (and php-stubs/mosquitto.stub.php, for the
 * Mosquitto\ classes) declares exactly what the loaded extension defines: classes, parents, flags, constants, properties, methods, parameters,
 * functions. The stub is never executed next to the real classes: a child
 * `php -n` (no extension) includes it and prints its reflection as JSON, which
 * is compared with the reflection of the extension loaded here.
 *
 * There is no allow-list: a class, method or parameter the extension gains makes
 * this test fail until the stub has it too.
 */
final class StubsTest extends TestCase
{
    private const STUB = __DIR__ . '/../../php-stubs/mqtt_broadcast.stub.php';
    private const MOSQUITTO_STUB = __DIR__ . '/../../php-stubs/mosquitto.stub.php';

    private static ?string $stubSource = null;

    public function testStubDeclaresExactlyWhatTheExtensionDefines(): void
    {
        // The Mosquitto-PHP compatible classes have a stub file of their own.
        $extension = ApiSurface::ofExtension('mqtt_broadcast');
        $mosquitto = array_filter($extension, static fn (string $key) => str_starts_with($key, 'class Mosquitto\\'), ARRAY_FILTER_USE_KEY);
        $own = array_diff_key($extension, $mosquitto);

        foreach ([[self::STUB, $own], [self::MOSQUITTO_STUB, $mosquitto]] as [$file, $expected]) {
            $differences = ApiSurface::differences($expected, self::describeFile($file));
            if ($differences !== []) {
                self::fail(sprintf(
                    "php-stubs/%s does not match the loaded extension (%s), %d difference(s):\n  - %s\n"
                    . "Bring the stub in line with the extension (`php --re mqtt_broadcast` with the extension loaded shows its reflection).",
                    basename($file),
                    \MqttBroadcast\Tests\Support\PhpScript::extensionPath(),
                    count($differences),
                    implode("\n  - ", $differences)
                ));
            }
        }
        // Guards against a description that sees nothing on either side.
        self::assertArrayHasKey('class Mqtt\\Client', $extension);
        self::assertArrayHasKey('method publish()', $extension['class Mqtt\\Client']);
        self::assertArrayHasKey('class Mqtt\\MqttException', $extension);
        self::assertArrayHasKey('method loopForever()', $extension['class Mosquitto\\Client']);
    }

    /**
     * The comparison notices drift in either direction: each case edits a copy of
     * the stub the way the stub or the extension could drift apart.
     *
     * @dataProvider drifts
     */
    public function testComparisonReportsDrift(string $search, string $replace, string $expectedDifference): void
    {
        $differences = ApiSurface::differences(ApiSurface::ofExtension('mqtt_broadcast'), self::describeFile(self::editedStub($search, $replace)));

        self::assertContains($expectedDifference, $differences, "reported differences:\n" . implode("\n", $differences));
    }

    public static function drifts(): iterable
    {
        yield 'the extension gained a class' => [
            "\n/** The outbox already holds max_queue messages. */\nclass QueueFullException extends MqttException {}\n", "\n",
            'class Mqtt\\QueueFullException: the extension defines it, the stub does not',
        ];
        yield 'the extension lost a class' => [
            'namespace Mqtt;', "namespace Mqtt;\n\nfinal class NotInTheExtension {}",
            'class Mqtt\\NotInTheExtension: the stub declares it, the extension does not',
        ];
        yield 'the extension gained a method' => [
            'public static function connections(): array {}', '',
            'class Mqtt\\Client > method connections(): the extension defines it, the stub does not',
        ];
        yield 'a parameter type' => [
            'public function flush(?float $timeout = null)', 'public function flush(?int $timeout = null)',
            'class Mqtt\\Client > method flush() > parameter #0 > type: the extension has ?float, the stub has ?int',
        ];
        yield 'a parameter name' => [
            'public function publish(string $topic,', 'public function publish(string $subject,',
            'class Mqtt\\Client > method publish() > parameter #0 > name: the extension has $topic, the stub has $subject',
        ];
        yield 'nullability' => [
            'public function __construct(?array $options = null,', 'public function __construct(array $options = [],',
            'class Mqtt\\Client > method __construct() > parameter #0 > nullable: the extension has true, the stub has false',
        ];
        yield 'a default value' => [
            "string \$name = 'default'", "string \$name = 'main'",
            "class Mqtt\\Client > method __construct() > parameter #1 > default: the extension has 'default', the stub has 'main'",
        ];
        yield 'an optional parameter made required' => [
            'public function flush(?float $timeout = null)', 'public function flush(?float $timeout)',
            'class Mqtt\\Client > method flush() > parameter #0 > optional: the extension has true, the stub has false',
        ];
        yield 'a parameter by reference' => [
            'public function flush(?float $timeout = null)', 'public function flush(?float &$timeout = null)',
            'class Mqtt\\Client > method flush() > parameter #0 > by reference: the extension has false, the stub has true',
        ];
        yield 'a variadic parameter' => [
            'public function flush(?float $timeout = null)', 'public function flush(?float ...$timeout)',
            'class Mqtt\\Client > method flush() > parameter #0 > variadic: the extension has false, the stub has true',
        ];
        yield 'an extra parameter' => [
            'public function events(): array', 'public function events(float $timeout = 1.0): array',
            'class Mqtt\\Client > method events() > parameter #0: the stub declares it, the extension does not',
        ];
        yield 'a return type' => [
            'public function close(?array $options = null): void', 'public function close(?array $options = null): bool',
            'class Mqtt\\Client > method close() > return type: the extension has void, the stub has bool',
        ];
        yield 'a static method' => [
            'public static function connections()', 'public function connections()',
            'class Mqtt\\Client > method connections() > static: the extension has true, the stub has false',
        ];
        yield 'a visibility' => [
            'public function close(', 'protected function close(',
            'class Mqtt\\Client > method close() > visibility: the extension has public, the stub has protected',
        ];
        yield 'a final class' => [
            'final class Client', 'class Client',
            'class Mqtt\\Client > declaration: the extension has final class, the stub has class',
        ];
        yield 'a parent class' => [
            'class TimeoutException extends MqttException {}', 'class TimeoutException extends \\RuntimeException {}',
            'class Mqtt\\TimeoutException > parent: the extension has Mqtt\\MqttException, the stub has RuntimeException',
        ];
        yield 'an interface' => [
            "final class Client\n{", "final class Client implements \\Countable\n{\n    public function count(): int {}",
            'class Mqtt\\Client > interfaces: the extension has (none), the stub has Countable',
        ];
        yield 'a class constant' => [
            "final class Client\n{", "final class Client\n{\n    public const VERSION = '1';",
            'class Mqtt\\Client > constant VERSION: the stub declares it, the extension does not',
        ];
        yield 'a property' => [
            "final class Client\n{", "final class Client\n{\n    public readonly string \$name;",
            'class Mqtt\\Client > property $name: the stub declares it, the extension does not',
        ];
        yield 'a function' => [
            'namespace Mqtt;', "namespace Mqtt;\n\nfunction connect(): void {}",
            'function Mqtt\\connect(): the stub declares it, the extension does not',
        ];
        yield 'a constant' => [
            'namespace Mqtt;', "namespace Mqtt;\n\nconst QOS_AT_LEAST_ONCE = 1;",
            'constant Mqtt\\QOS_AT_LEAST_ONCE: the stub declares it, the extension does not',
        ];
    }

    /** Properties are compared by type, nullability, readonly, visibility, static and default. */
    public function testComparisonReportsPropertyDrift(): void
    {
        $declared = self::describeFile(self::editedStub("final class Client\n{", "final class Client\n{\n    public readonly string \$name;"));
        $changed = self::describeFile(self::editedStub("final class Client\n{", "final class Client\n{\n    protected static ?int \$name = 1;"));

        $differences = ApiSurface::differences($declared, $changed, 'one', 'the other');

        self::assertSame([
            'class Mqtt\\Client > property $name > visibility: one has public, the other has protected',
            'class Mqtt\\Client > property $name > static: one has false, the other has true',
            'class Mqtt\\Client > property $name > readonly: one has true, the other has false',
            'class Mqtt\\Client > property $name > type: one has string, the other has ?int',
            'class Mqtt\\Client > property $name > nullable: one has false, the other has true',
            'class Mqtt\\Client > property $name > default: one has (none), the other has 1',
        ], $differences);
    }

    /** A copy of the stub with $search (which must occur exactly once) replaced. */
    private static function editedStub(string $search, string $replace): string
    {
        $source = self::$stubSource ??= (string) file_get_contents(self::STUB);
        self::assertSame(1, substr_count($source, $search), "the drift case expects the stub to contain exactly once:\n$search");
        $file = tempnam(sys_get_temp_dir(), 'mqtt-broadcast-stub-');
        file_put_contents($file, str_replace($search, $replace, $source));
        register_shutdown_function(static fn () => @unlink($file));
        return $file;
    }

    /** ApiSurface::ofFile() of $file, run in `php -n` so that the extension's classes are not there. */
    private static function describeFile(string $file): array
    {
        $stdout = tempnam(sys_get_temp_dir(), 'mqtt-broadcast-describe-out-');
        $stderr = tempnam(sys_get_temp_dir(), 'mqtt-broadcast-describe-err-');
        try {
            $process = new BackgroundProcess(
                [PHP_BINARY, '-n', '-d', 'display_errors=stderr', '-d', 'error_reporting=-1', dirname(__DIR__) . '/support/describe-file.php', $file],
                $stdout,
                $stderr
            );
            $finished = $process->wait(30.0);
            $process->kill();
            $out = (string) file_get_contents($stdout);
            $err = (string) file_get_contents($stderr);
            self::assertTrue($finished, "describing $file did not finish within 30 s");
            self::assertSame(0, $process->exitCode(), "describing $file failed:\n$err\n$out");
            self::assertSame('', $err, "including $file (without the extension) printed errors or warnings");
            return json_decode($out, true, 512, JSON_THROW_ON_ERROR);
        } finally {
            unlink($stdout);
            unlink($stderr);
        }
    }
}
