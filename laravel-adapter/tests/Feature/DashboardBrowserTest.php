<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Tests\Feature;

use Illuminate\Support\Facades\Artisan;
use MqttBroadcast\Laravel\Models\FailedMqttJob;
use MqttBroadcast\Laravel\Tests\Browser;
use MqttBroadcast\Laravel\Tests\TestCase;
use MqttBroadcast\Tests\Support\BackgroundProcess;
use MqttBroadcast\Tests\Support\Broker;
use MqttBroadcast\Tests\Support\Failure;
use MqttBroadcast\Tests\Support\PhpScript;

/**
 * The dashboard in a real browser: Debian's headless Chromium loads the page
 * from the test application served by `php -S`, with a real daemon running;
 * the page's own script refreshes its figures from the JSON API while
 * messages arrive, and its Retry button publishes a failed publish again.
 *
 * MQTT_BROADCAST_DASHBOARD_SCREENSHOT=docs/dashboard.png also writes a
 * screenshot of the page with its data (the one in the README).
 */
final class DashboardBrowserTest extends TestCase
{
    private ?BackgroundProcess $server = null;
    private ?Browser $browser = null;

    protected function tearDown(): void
    {
        $this->browser?->close();
        $this->browser = null;
        $this->server?->kill();
        $this->server = null;
        parent::tearDown();
    }

    public function test_the_page_shows_the_daemon_its_connection_and_a_throughput_that_grows(): void
    {
        $chromium = Browser::find() ?? self::markTestSkipped('chromium is not installed (./build.sh deps installs it; on Debian: apt-get install chromium): the dashboard is not checked in a browser.');
        $screenshot = getenv('MQTT_BROADCAST_DASHBOARD_SCREENSHOT') ?: null;
        // The README's screenshot shows an application's prefix rather than the test's.
        $prefix = $screenshot === null ? $this->topic('browser') . '/' : 'myapp/';
        $env = ['APP_ENV' => 'local', 'MQTT_PREFIX' => $prefix, 'MQTT_LOG_ENABLE' => 'true'];
        touch("{$this->appDir}/database/database.sqlite");
        $this->bootApp($env);
        Artisan::call('migrate', ['--force' => true]);
        $failed = FailedMqttJob::query()->create(['broker' => 'default', 'topic' => 'orders/created', 'message' => '{"id":42}', 'qos' => 1, 'exception' => 'Mqtt\TimeoutException: the broker did not acknowledge the message within 5 s', 'failed_at' => now()]);
        $daemon = $this->startDaemon($env);
        $daemon->awaitSubscription(static::broker(), 'probe', $prefix);
        $url = $this->serve($env) . '/mqtt-broadcast';

        $this->browser = Browser::launch($chromium, "{$this->appDir}/chromium");
        $this->browser->open($url);
        $row = $this->browser->waitFor("(document.querySelector('#daemons tbody tr') || {}).innerText", 5.0, 'a daemon');
        self::assertSame(1, preg_match('/^(\S+)\t' . preg_quote((string) gethostname(), '/') . '\t' . $daemon->pid() . '\trunning\t/', $row), "the daemon's name, host, pid and state: $row");
        self::assertMatchesRegularExpression('/\tdefault\tconnected\t/', (string) $this->browser->evaluate("document.querySelector('#daemon-connections tbody tr').innerText"), 'its connection');
        self::assertStringContainsString($failed->topic, (string) $this->browser->evaluate("document.querySelector('#failed tbody tr').innerText"));
        self::assertTrue($this->browser->evaluate("document.querySelector('button[data-retry=\"{$failed->external_id}\"]') !== null"), 'a retry button for the failed publish');
        $before = $this->receivedLastHour();

        $publisher = $this->client($this->options(), 'dashboard-publisher');
        for ($i = 0; $i < 25; $i++) {
            $publisher->publish("{$prefix}readings/$i", "reading $i", 1);
        }
        $daemon->waitForMessages("{$prefix}readings/", 25);

        // No reload: the page's script asks the JSON API again every few seconds.
        $this->browser->waitFor("parseInt(document.getElementById('throughput-received-hour').textContent.replace(/,/g, ''), 10) >= " . ($before + 25), 10.0, 'the 25 messages in "received, last hour"');
        self::assertGreaterThanOrEqual(1, (int) $this->browser->evaluate("document.getElementById('updated').dataset.refreshes"));
        $this->browser->waitFor("document.getElementById('messages').textContent.includes('{$prefix}readings/24')", 5.0, 'the last reading in the message log');

        if ($screenshot !== null) {
            $this->browser->screenshot($screenshot, 1200);
        }

        // Retry: a POST with the session's cookie and CSRF token, as a click sends it.
        $this->browser->evaluate("document.querySelector('button[data-retry]').click()");
        $notice = $this->browser->waitFor("document.getElementById('notice').textContent", 10.0, 'the outcome of the retry');
        self::assertSame("Published {$failed->external_id} again (orders/created on connection default).", $notice);
        $daemon->waitForMessages("{$prefix}orders/created", 1);
        $this->browser->waitFor("document.getElementById('failed').textContent.includes('No failed publishes.')", 5.0, 'an empty failed-publish store');
        self::assertSame(0, FailedMqttJob::query()->count());
    }

    /** Serves the test application with `php -S`; returns its base URL. */
    private function serve(array $env): string
    {
        $port = Broker::freePort();
        $this->server = new BackgroundProcess(
            [PHP_BINARY, '-d', 'extension=' . PhpScript::extensionPath(), '-S', "127.0.0.1:$port", dirname(__DIR__) . '/app/public/index.php'],
            "{$this->appDir}/php-s.out",
            "{$this->appDir}/php-s.err",
            array_merge(getenv(), $this->appEnv($env)),
        );
        $deadline = microtime(true) + 10.0;
        while (!Broker::portAccepts($port)) {
            if (!$this->server->isRunning() || microtime(true) >= $deadline) {
                Failure::raise("php -S did not listen on port $port\n" . @file_get_contents("{$this->appDir}/php-s.err"));
            }
            usleep(20_000);
        }
        return "http://127.0.0.1:$port";
    }

    private function receivedLastHour(): int
    {
        return (int) $this->browser->evaluate("parseInt(document.getElementById('throughput-received-hour').textContent.replace(/,/g, ''), 10)");
    }
}
