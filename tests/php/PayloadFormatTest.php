<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests;

use Mqtt\Subscriber;
use MqttBroadcast\Tests\Support\BackgroundProcess;
use MqttBroadcast\Tests\Support\MqttTestCase;

/**
 * MQTT 5's payload format indicator against a real mosquitto: sent by publish(),
 * as mosquitto_sub -V 5 prints it (%F); received from mosquitto_pub -V 5 into
 * the message's properties; validated.
 */
final class PayloadFormatTest extends MqttTestCase
{
    private const WAIT = 10.0;

    public function testPublishSendsTheIndicator(): void
    {
        $client = $this->client($this->v5(['qos' => 1]));
        foreach (['text' => 1, 'bytes' => 0] as $suffix => $indicator) {
            // Retained, so that mosquitto_sub started afterwards gets it with its properties.
            $client->publishSync($this->topic($suffix), "as $suffix", 1, true, self::WAIT, ['payload_format_indicator' => $indicator]);
            $this->assertSame("$indicator as $suffix", $this->mosquittoSub($this->topic($suffix), '%F %p'));
            $client->publishSync($this->topic($suffix), '', 1, true, self::WAIT);
        }
        $client->publishSync($this->topic('none'), 'no indicator', 1, true, self::WAIT);
        $this->assertSame(' no indicator', $this->mosquittoSub($this->topic('none'), '%F %p'));
        $client->publishSync($this->topic('none'), '', 1, true, self::WAIT);
    }

    public function testAReceivedIndicatorIsInTheProperties(): void
    {
        $subscriber = new Subscriber([$this->client($this->v5())]);
        $subscriber->subscribe($this->topic('#'), 1, self::WAIT);
        $broker = self::broker();
        foreach (['1', '0'] as $indicator) {
            $out = tempnam(sys_get_temp_dir(), 'mqtt-broadcast-pfi-');
            $pub = new BackgroundProcess(['mosquitto_pub', '-V', 'mqttv5', '-h', $broker->host(), '-p', (string) $broker->port(), '-q', '1',
                '-t', $this->topic("in/$indicator"), '-m', "indicator $indicator", '-D', 'publish', 'payload-format-indicator', $indicator], $out, $out);
            $this->assertTrue($pub->wait(self::WAIT), (string) file_get_contents($out));
            @unlink($out);
        }
        $messages = $this->collect($subscriber, 2, 'the two messages of mosquitto_pub');
        $byPayload = [];
        foreach ($messages as $message) {
            $byPayload[$message->payload] = $message->properties;
        }
        $this->assertSame(['payload_format_indicator' => 1], $byPayload['indicator 1']);
        $this->assertSame(['payload_format_indicator' => 0], $byPayload['indicator 0']);
    }

    public function testTheIndicatorIsValidated(): void
    {
        $client = $this->client($this->v5());
        $cases = [
            [fn () => $client->publish($this->topic('x'), "\xff", 1, false, ['payload_format_indicator' => 1]), 'argument #2 ($payload) must be valid UTF-8 with property "payload_format_indicator" => 1'],
            [fn () => $client->publishSync($this->topic('x'), 'x', 1, false, 1.0, ['payload_format_indicator' => 2]), 'argument #6 ($properties) entry "payload_format_indicator" must be 0 (the payload is unspecified bytes) or 1 (UTF-8 text), got 2'],
            [fn () => $client->publish($this->topic('x'), 'x', 1, false, ['payload_format_indicator' => '1']), 'argument #5 ($properties) entry "payload_format_indicator" must be 0 (the payload is unspecified bytes) or 1 (UTF-8 text), got "1"'],
            [fn () => $this->client($this->options(['protocol' => '3.1.1']))->publish($this->topic('x'), 'x', 1, false, ['payload_format_indicator' => 1]), 'argument #5 ($properties) needs a connection with option "protocol" => "5"; this one speaks MQTT 3.1.1'],
        ];
        foreach ($cases as [$call, $expected]) {
            try {
                $call();
                $this->fail("accepted: $expected");
            } catch (\ValueError $e) {
                $this->assertSame($expected, $e->getMessage());
            }
        }
        // Binary payloads are fine with 0, text with 1.
        $client->publish($this->topic('x'), "\xff", 0, false, ['payload_format_indicator' => 0]);
        $client->publish($this->topic('x'), 'grüße', 0, false, ['payload_format_indicator' => 1]);
        $this->assertTrue($client->flush(self::WAIT));
    }

    /** The one (retained) message mosquitto_sub -V 5 receives on $topic, printed with $format. */
    private function mosquittoSub(string $topic, string $format): string
    {
        $broker = self::broker();
        $out = tempnam(sys_get_temp_dir(), 'mqtt-broadcast-pfi-');
        $sub = new BackgroundProcess(['mosquitto_sub', '-V', 'mqttv5', '-h', $broker->host(), '-p', (string) $broker->port(),
            '-t', $topic, '-C', '1', '-W', '10', '-F', $format], $out, $out);
        $this->assertTrue($sub->wait(self::WAIT), (string) file_get_contents($out));
        $printed = rtrim((string) file_get_contents($out), "\n");
        @unlink($out);
        return $printed;
    }

    private function v5(array $overrides = []): array
    {
        return $this->options(array_replace(['protocol' => '5'], $overrides));
    }
}
