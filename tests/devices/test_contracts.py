"""Every device implementation — simulated and real drivers on fake transports — passes the same contracts."""

from __future__ import annotations

import math
from importlib.resources import files

import pytest

from flowqd.devices import SimClock
from flowqd.devices.drivers.modbus_tc import ModbusTemperatureController, load_register_map
from flowqd.devices.drivers.ocean import OceanSpectrometer
from flowqd.devices.drivers.serial_pump import SerialSyringePump
from flowqd.devices.sim import (
    HeaterParams,
    SimPlant,
    SimPressureSensor,
    SimSpectrometer,
    SimSyringePump,
    SimTemperatureController,
    SimValve,
    SurrogateTwin,
    SyringeParams,
)
from flowqd.devices.testing import (
    FakeModbusController,
    FakePumpFirmware,
    FakeSeabreezeDevice,
    PressureSensorContract,
    SpectrometerContract,
    SyringePumpContract,
    TemperatureControllerContract,
    ValveContract,
)
from flowqd.reactor.geometry import paper_train
from flowqd.reactor.process import ProcessModel


def _plant():
    clock = SimClock(speedup=math.inf)
    plant = SimPlant(clock=clock, process=ProcessModel(paper_train()), twin=SurrogateTwin())
    plant.reservoirs_ml["stock"] = 40.0
    return clock, plant


def _advance(clock):
    return lambda dt: clock.advance(dt)


# ---------------------------------------------------------------------------------------------- simulated
class TestSimSyringePump(SyringePumpContract):
    def make(self):
        clock, plant = _plant()
        plant.add_syringe("s", SyringeParams(), "stock", "core")
        return SimSyringePump(plant, "s", device="pump", min_flow_ml_min=0.001), _advance(clock)


class TestSimTemperatureController(TemperatureControllerContract):
    def make(self):
        clock, plant = _plant()
        plant.add_heater("HB1", HeaterParams(), 5.0)
        return SimTemperatureController(plant, "HB1", min_c=20, max_c=350, max_ramp_c_min=10), _advance(clock)


class TestSimPressureSensor(PressureSensorContract):
    def make(self):
        clock, plant = _plant()
        plant.add_heater("HB1", HeaterParams(), 5.0)
        return SimPressureSensor(plant, "pressure"), _advance(clock)


class TestSimValve(ValveContract):
    def make(self):
        clock, plant = _plant()
        return SimValve(plant, "outlet_valve"), _advance(clock)


class TestSimSpectrometer(SpectrometerContract):
    def make(self):
        clock, plant = _plant()
        return SimSpectrometer(plant, "uvvis", averages=20), _advance(clock)


# ------------------------------------------------------------------------- real drivers on fake transports
class TestSerialSyringePump(SyringePumpContract):
    def make(self):
        clock = SimClock(speedup=math.inf)
        fw = FakePumpFirmware(clock)
        return SerialSyringePump(fw, 1, "core_pump.B"), _advance(clock)


class TestModbusTemperatureController(TemperatureControllerContract):
    def make(self):
        clock = SimClock(speedup=math.inf)
        fake = FakeModbusController(clock)
        tc = ModbusTemperatureController(fake, 1, "hb1", register_map=load_register_map("eurotherm-3200"),
                                         min_c=20, max_c=350, max_ramp_c_min=10)
        return tc, _advance(clock)


class TestOceanSpectrometer(SpectrometerContract):
    def make(self):
        clock = SimClock(speedup=math.inf)
        dev = FakeSeabreezeDevice()
        return OceanSpectrometer(dev, "uvvis", clock, averages=20, shutter=dev.set_shutter), _advance(clock)


# ---------------------------------------------------------------------------------------------- driver specifics
def test_serial_pump_wire_format_and_errors():
    clock = SimClock(speedup=math.inf)
    fw = FakePumpFirmware(clock)
    pump = SerialSyringePump(fw, 0, "p", max_flow_ml_min=20.0)
    pump.set_flow_ml_min(0.1)
    assert fw.log[-1] == "00 RAT 0.1000"
    with pytest.raises(Exception, match="out of range"):  # the firmware's ERR reply becomes a DeviceError
        pump.set_flow_ml_min(15.0)
    fw.dead = True
    from flowqd.devices import DeviceTimeout

    with pytest.raises(DeviceTimeout):
        pump.flow_ml_min()


def test_modbus_scaling_and_safe_state_registers():
    clock = SimClock(speedup=math.inf)
    fake = FakeModbusController(clock)
    tc = ModbusTemperatureController(fake, 1, "hb1", register_map=load_register_map("eurotherm-3200"),
                                     min_c=20, max_c=350, max_ramp_c_min=10)
    tc.set_setpoint_c(212.3)
    assert fake.regs[2] == 2123 and fake.regs[273] == 0  # 0.1 °C per count, automatic mode
    tc.stop()
    assert fake.regs[273] == 1 and fake.regs[3] == 0  # manual, 0 % output
    fake.pv = -5.2  # stored as the two's complement 0xFFCC
    assert tc._read("process_value") == pytest.approx(-5.2)


def test_registry_builds_real_drivers_lazily_and_rejects_unknown(tmp_path):
    from flowqd.devices import build_devices
    from flowqd.errors import ConfigError
    from flowqd.platform import platform_from_text

    text = (__import__("pathlib").Path(__file__).resolve().parents[2] / "examples"
            / "platform-wang-segets-2023.toml").read_text()
    bad = text.replace('[devices.hb1]\ndriver = "sim"', '[devices.hb1]\ndriver = "eurotherm9000"')
    with pytest.raises(ConfigError, match=r"devices.hb1.driver = 'eurotherm9000': unknown driver"):
        build_devices(platform_from_text(bad, "p.toml"), SimClock())


def test_unverified_register_map_warns_when_a_real_controller_is_built(tmp_path, caplog):
    import logging
    from types import SimpleNamespace

    from flowqd.devices.drivers.modbus_tc import from_config

    assert load_register_map("eurotherm-3200").verified is False
    clock = SimClock(speedup=math.inf)
    cfg = SimpleNamespace(port="/dev/null", options={}, timeout_s=1.0, address=1, min_c=20.0, max_c=350.0,
                          max_ramp_c_min=10.0)
    with caplog.at_level(logging.WARNING, logger="flowqd.devices.drivers.modbus_tc"):
        from_config("hb1", cfg, clock, client=FakeModbusController(clock))
    assert "hb1" in caplog.text and "not verified" in caplog.text
    reviewed = tmp_path / "reviewed.toml"
    packaged = files("flowqd.devices.drivers") / "data" / "eurotherm-3200.toml"
    reviewed.write_text(packaged.read_text().replace("verified = false", "verified = true"))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="flowqd.devices.drivers.modbus_tc"):
        from_config("hb1", SimpleNamespace(**{**vars(cfg), "options": {"register_map": str(reviewed)}}), clock,
                    client=FakeModbusController(clock))
    assert "not verified" not in caplog.text
