<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Tests\Feature;

use MqttBroadcast\Laravel\Tests\TestCase;

/**
 * An application whose PHP has no mqtt_broadcast extension (a CI runner, a
 * laptop): it boots, its tests run with MqttBroadcast::fake(), and only a real
 * publish fails, saying what is missing.
 */
final class WithoutExtensionTest extends TestCase
{
    protected function appEnv(array $overrides = []): array
    {
        return array_replace(['MQTT_BROADCAST_APP_DIR' => $this->appDir, 'APP_ENV' => 'testing', 'MQTT_HOST' => '127.0.0.1', 'MQTT_PORT' => '1'], $overrides);
    }

    public function test_the_fakes_tests_pass_without_the_extension(): void
    {
        // The PHPUnit running this suite: another one (a newer Debian's /usr/bin/phpunit) reads the tests differently.
        $result = $this->phpWithoutExtension(
            [realpath($_SERVER['argv'][0]), '-c', dirname(__DIR__) . '/phpunit.xml', '--group', 'without-extension', '--do-not-cache-result'],
            ['MQTT_BROADCAST_WITHOUT_EXTENSION' => '1']
        );

        self::assertSame(0, $result->exitCode, $result->describe());
        self::assertMatchesRegularExpression('/OK \(\d+ tests?, \d+ assertions\)/', $result->stdout, $result->describe());
    }

    public function test_the_application_boots_and_lists_the_commands(): void
    {
        $result = $this->phpWithoutExtension([self::ARTISAN, 'list']);

        self::assertSame(0, $result->exitCode, $result->describe());
        self::assertStringContainsString('mqtt-broadcast:status', $result->stdout);
        self::assertSame('', $result->stderr);
    }

    public function test_a_real_publish_says_the_extension_is_missing_and_how_to_install_it(): void
    {
        $script = "{$this->appDir}/publish.php";
        file_put_contents($script, '<?php
            require ' . var_export(dirname(__DIR__) . '/autoload.php', true) . ';
            $app = require ' . var_export(dirname(__DIR__) . '/app/bootstrap/app.php', true) . ';
            $app->make(Illuminate\Contracts\Console\Kernel::class)->bootstrap();
            try {
                MqttBroadcast\Laravel\Facades\MqttBroadcast::publish("a/b", "x");
            } catch (Throwable $e) {
                echo get_class($e), ": ", $e->getMessage();
            }');

        $result = $this->phpWithoutExtension([$script]);

        self::assertSame(0, $result->exitCode, $result->describe());
        self::assertStringStartsWith('MqttBroadcast\Laravel\Exceptions\ExtensionMissingException: The mqtt_broadcast PHP extension is not loaded in this PHP', $result->stdout);
        self::assertStringContainsString('./build.sh install', $result->stdout);
        self::assertStringContainsString('MqttBroadcast::fake()', $result->stdout);
    }

    public function test_the_daemon_says_the_extension_is_missing(): void
    {
        $result = $this->phpWithoutExtension([self::ARTISAN, 'mqtt-broadcast']);

        self::assertSame(1, $result->exitCode, $result->describe());
        self::assertStringContainsString('The mqtt_broadcast PHP extension is not loaded in this PHP', $result->stdout);
    }
}
